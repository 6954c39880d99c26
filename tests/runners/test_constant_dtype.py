"""``constant = 0.3`` passes a float32/float16/bfloat16 tensor torch filled with 0.3 (stored 0.30000001...), and
still fails a different value (#13)."""

from __future__ import annotations

import pytest
import torch

from kaiming_cli.api import verify_tensor


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_constant_compared_after_rounding_to_the_dtype(dtype: torch.dtype) -> None:
    t = torch.empty(4, 6, dtype=dtype)
    torch.nn.init.constant_(t, 0.3)
    assert verify_tensor(t, constant=0.3).status == "pass"
    assert verify_tensor(t, constant=0.31).status == "fail"  # 0.2999 is 0.3 in bfloat16 (ulp 2^-9)


def test_integer_constant_is_exact() -> None:
    assert verify_tensor(torch.full((3, 3), 7, dtype=torch.int64), constant=7).status == "pass"
    assert verify_tensor(torch.full((3, 3), 7, dtype=torch.int64), constant=7.5).status == "fail"
