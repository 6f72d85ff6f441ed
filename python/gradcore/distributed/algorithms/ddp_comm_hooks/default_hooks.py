"""The built-in DDP communication hooks, PyTorch's ``default_hooks``.

A hook is ``hook(state, bucket) -> Future[Tensor]``: it starts the reduction of
``bucket.buffer()`` (a flat tensor of the bucket's gradients, not yet divided by the world size)
and returns a Future whose value is the averaged buffer; DDP writes that value into the
gradients when backward ends. For these hooks ``state`` is the process group (None: the default
group)::

    ddp.register_comm_hook(None, default_hooks.fp16_compress_hook)
"""
import gradcore
import gradcore.distributed as dist

__all__ = ["allreduce_hook", "fp16_compress_hook", "bf16_compress_hook", "fp16_compress_wrapper",
           "bf16_compress_wrapper"]


def _allreduce_fut(process_group, tensor):
    """Averages ``tensor`` over the group: divided first (no overflow in 16-bit floats), then
    all-reduced; the Future's value is ``tensor``."""
    group_to_use = process_group if process_group is not None else dist.group.WORLD
    with gradcore.no_grad():
        tensor.div_(group_to_use.size())
    return dist.all_reduce(tensor, group=group_to_use, async_op=True).get_future().then(lambda fut: fut.value()[0])


def allreduce_hook(process_group, bucket):
    """Averages the bucket with one all-reduce: what DDP does without a hook (a reference to
    start a custom hook from)."""
    return _allreduce_fut(process_group, bucket.buffer())


def _compress_hook(dtype, process_group, bucket):
    group_to_use = process_group if process_group is not None else dist.group.WORLD
    buffer = bucket.buffer()
    with gradcore.no_grad():
        compressed = buffer.to(dtype).div_(group_to_use.size())

    def decompress(fut):
        with gradcore.no_grad():
            buffer.copy_(fut.value()[0])  # in place: no second full-precision buffer
        return buffer

    return dist.all_reduce(compressed, group=group_to_use, async_op=True).get_future().then(decompress)


def fp16_compress_hook(process_group, bucket):
    """Casts the bucket to float16, divided by the group size, all-reduces that (half the bytes),
    and casts the result back into the bucket's dtype."""
    return _compress_hook(gradcore.float16, process_group, bucket)


def bf16_compress_hook(process_group, bucket):
    """As fp16_compress_hook, in bfloat16 (float32's range, 8 bits of mantissa)."""
    return _compress_hook(gradcore.bfloat16, process_group, bucket)


def _compress_wrapper(dtype, hook):
    def wrapped(hook_state, bucket):
        bucket.set_buffer(bucket.buffer().to(dtype))
        fut = hook(hook_state, bucket)

        def decompress(fut):
            result = bucket.buffer()
            with gradcore.no_grad():
                result.copy_(fut.value())
            return result

        return fut.then(decompress)
    return wrapped


def fp16_compress_wrapper(hook):
    """``hook`` run on the bucket cast to float16, its result cast back:
    ``fp16_compress_wrapper(allreduce_hook)`` is fp16_compress_hook."""
    wrapped = _compress_wrapper(gradcore.float16, hook)
    wrapped.__name__ = wrapped.__qualname__ = "fp16_compress_wrapper_hook"
    return wrapped


def bf16_compress_wrapper(hook):
    """``hook`` run on the bucket cast to bfloat16, its result cast back."""
    wrapped = _compress_wrapper(gradcore.bfloat16, hook)
    wrapped.__name__ = wrapped.__qualname__ = "bf16_compress_wrapper_hook"
    return wrapped
