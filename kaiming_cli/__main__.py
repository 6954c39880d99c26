from kaiming_cli.cli import main

main()
