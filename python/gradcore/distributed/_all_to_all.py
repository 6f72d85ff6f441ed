"""all_to_all_single and all_to_all: every rank sends a block to every rank (PyTorch's signatures
and checks), on MPI's non-blocking Ialltoallv.

Blocks travel as raw bytes, as the other data movements do, so every dtype works; split sizes
count rows (dim 0), MPI counts bytes. all_to_all goes through one flat send buffer and one flat
receive buffer (the same Ialltoallv), its output list filled from the receive buffer once the
operation completes.
"""
import gradcore
from ._collectives import _check_tensor, _check_tensor_list, _copy_rows, _finish, _outside, _run
from ._mpi import Staged, load_mpi
from .distributed_c10d import _resolve


def _check_same_dtype(tensors, op):
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise ValueError(f"{op}: Invalid usage of tensors with different dtypes. Found "
                         f"{sorted(str(d) for d in dtypes)}. Hint: cast them to one dtype.")


def _row_counts(t, split_sizes, n, op, name):
    """The rows of ``t`` that go to (or come from) each of the ``n`` ranks, checked as c10d does."""
    if t.dim() == 0:
        raise RuntimeError(f"{op}: {name} must have at least one dimension (its dim 0 is split across the ranks), "
                           "got a 0-dim tensor")
    rows = t.shape[0]
    if not split_sizes:
        if rows % n != 0:
            raise RuntimeError(f"{op}: Tensor's dim 0 does not divide equally across group size: {name} has "
                               f"{rows} rows for {n} ranks. Hint: pass {name}_split_sizes.")
        return [rows // n] * n
    sizes = [int(s) for s in split_sizes]
    if len(sizes) != n:
        raise RuntimeError(f"{op}: Number of tensor splits not equal to group size: {name}_split_sizes has "
                           f"{len(sizes)} entries for {n} ranks")
    if any(s < 0 for s in sizes) or sum(sizes) != rows:
        raise RuntimeError(f"{op}: Split sizes doesn't match total dim 0 size: {name}_split_sizes {sizes} for "
                           f"{name} of shape {list(t.shape)}")
    return sizes


def _byte_layout(row_counts, row_bytes):
    counts = [c * row_bytes for c in row_counts]
    displs = [sum(counts[:i]) for i in range(len(counts))]
    return counts, displs


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    """Splits ``input`` along dim 0 into one block per rank (equal blocks, or
    ``input_split_sizes`` rows each) and sends block r to rank r; the blocks received, in rank
    order, fill ``output`` (split by ``output_split_sizes``, which must match the sizes the other
    ranks send)."""
    pg = _resolve(group)
    _check_tensor(output, "output", "all_to_all_single")
    _check_tensor(input, "input", "all_to_all_single")
    if _outside(pg, "all_to_all_single"):
        return None
    _check_same_dtype([output, input], "all_to_all_single")
    n = pg.size()
    send_rows = _row_counts(input, input_split_sizes, n, "all_to_all_single", "input")
    recv_rows = _row_counts(output, output_split_sizes, n, "all_to_all_single", "output")
    if tuple(input.shape[1:]) != tuple(output.shape[1:]):
        raise RuntimeError(f"all_to_all_single: input {list(input.shape)} and output {list(output.shape)} must have "
                           "the same shape past dim 0 (the rows exchanged)")
    MPI = load_mpi()
    row_bytes = input.element_size()
    for s in input.shape[1:]:
        row_bytes *= s
    src, dst = Staged(input), Staged(output, writes=True)
    send = [src.spec[0], _byte_layout(send_rows, row_bytes), MPI.BYTE]
    recv = [dst.spec[0], _byte_layout(recv_rows, row_bytes), MPI.BYTE]
    return _run("all_to_all_single", pg, [pg.comm.Ialltoallv(send, recv)], [src, dst], async_op, result=[output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Sends ``input_tensor_list[r]`` to rank r; ``output_tensor_list[r]`` receives what rank r
    sent to this rank. The tensors may differ in shape (each output must hold as many elements
    as its sender's input); one dtype throughout."""
    pg = _resolve(group)
    _check_tensor_list(output_tensor_list, "output_tensor_list", "all_to_all")
    _check_tensor_list(input_tensor_list, "input_tensor_list", "all_to_all")
    if _outside(pg, "all_to_all"):
        return None
    n = pg.size()
    for name, ts in (("output_tensor_list", output_tensor_list), ("input_tensor_list", input_tensor_list)):
        if len(ts) != n:
            raise RuntimeError(f"all_to_all: {name} must have one tensor per rank ({n}), got {len(ts)}")
    _check_same_dtype(output_tensor_list + input_tensor_list, "all_to_all")
    dtype, device = input_tensor_list[0].dtype, input_tensor_list[0].device
    flat_in = gradcore.cat([t.detach().reshape(-1) for t in input_tensor_list])
    flat_out = gradcore.empty(sum(t.numel() for t in output_tensor_list), dtype=dtype, device=device)
    work = all_to_all_single(flat_out, flat_in, [t.numel() for t in output_tensor_list],
                             [t.numel() for t in input_tensor_list], pg, async_op=True)
    blocks = flat_out.split([t.numel() for t in output_tensor_list])
    work._then(_copy_rows([b.view(t.shape) for b, t in zip(blocks, output_tensor_list)], output_tensor_list))
    work._result = output_tensor_list
    return _finish(work, async_op)
