"""The tensors one input lists, checked whatever its format: how many, unique names, and no aliasing that
multiplies work. ``readers.read_path`` applies ``vet_entries`` to every input at the boundary.

How many: at most ``--max-tensors`` (each reader also counts while it lists, before any value is read). Names:
a name listed twice (a crafted msgpack map, a ``.pt`` dict whose dotted keys collide, a shard repeating
another's tensor) refuses the input: the second would be reported and tested under the first's name.

Aliasing: tensors of one input may reach the same stored bytes: read and tested once, never a way to multiply
work.

A hostile file can name one dataset, storage or byte range from many tensors (HDF5 hard links, ONNX initializers
with one ``location``/``offset``/``length``, ``.pt`` views of one storage): 1000 names for one 16 MiB dataset
would read 16 GB from a 17 MB file and count one draw as 1000 independent tests. So, over every input's
tensors (``readers.read_path`` calls this at the boundary, whatever the format):

- a tensor with the same extent, view, shape and dtype as an earlier one is that tensor stored once: it keeps
  its name in the report but carries ``same_as`` (the first name), and the runners neither read nor test it;
- the distinct extents together may read the stored bytes at most ``MAX_ALIASING`` times over (plus 1 MiB, as
  for ``.pt``); beyond that the file is refused, exit 3 (security.md §2.3).
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import InputError
from .limits import MAX_ALIASING, Limits
from .sources import Extent, TensorSource, quote, too_many_tensors


def vet_entries(sources: list[TensorSource], where: str, limits: Limits) -> list[TensorSource]:
    """The input's tensors, counted, with unique names, and repeats of one stored tensor marked ``same_as``."""
    if len(sources) > limits.max_tensors:
        raise too_many_tensors(where, limits)
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise InputError(f"{where}: the tensor name {quote(source.name)} is listed twice; refusing the input "
                             "(one name would stand for two tensors).")
        seen.add(source.name)
    return mark_aliases(sources, where)


def mark_aliases(sources: list[TensorSource], where: str) -> list[TensorSource]:
    """``sources`` with ``same_as`` set on repeats of one stored tensor; refuses amplifying overlaps."""
    first: dict[tuple[Extent, str, tuple[int, ...]], str] = {}
    out: list[TensorSource] = []
    for source in sources:
        if source.extent is None or source.numel == 0 or source.error or source.same_as:
            out.append(source)
            continue
        key = (source.extent, source.dtype, source.shape)
        if key in first:
            out.append(replace(source, same_as=first[key]))
        else:
            first[key] = source.name
            out.append(source)
    check_aliasing([extent for extent, _dtype, _shape in first], where)
    return out


def check_aliasing(extents: list[Extent], where: str) -> None:
    """Refuse when the distinct extents would read the stored bytes more than ``MAX_ALIASING`` times over."""
    by_file: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for extent in extents:
        by_file.setdefault(extent.file, []).append((extent.start, extent.stop))
    viewed = sum(stop - start for spans in by_file.values() for start, stop in spans)
    stored = sum(union_length(spans) for spans in by_file.values())
    if viewed > MAX_ALIASING * stored + (1 << 20):
        raise InputError(f"{where}: its tensors read the same stored bytes more than {MAX_ALIASING} times over "
                         f"({viewed} bytes of tensors over {stored} stored); refusing a crafted file.")


def union_length(spans: list[tuple[int, int]]) -> int:
    """How many bytes the half-open ranges ``spans`` cover together."""
    total, reach = 0, None
    for start, stop in sorted(spans):
        if reach is None or start >= reach:
            total += stop - start
            reach = stop
        elif stop > reach:
            total += stop - reach
            reach = stop
    return total
