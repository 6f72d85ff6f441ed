"""``DistributedDataParallel``: PyTorch's DDP on ``gradcore.distributed``.

Every rank holds a replica of the module and runs its own share of the batch; gradients are
averaged across ranks during ``backward()``, so every replica takes the same optimizer step.

How the averaging overlaps backward: the parameters are split into buckets in reverse order
(the order backward produces their gradients): a first small one (1 MB, so communication starts
early), then ``bucket_cap_mb`` each. A post-accumulate-grad hook on every parameter copies its
gradient into its bucket's flat buffer; when a bucket is complete (and every bucket before it was
launched, so all ranks start the same collectives in the same order), the communication hook
runs on it: by default ``allreduce_hook`` (the flat buffer divided by the world size and
all-reduced with ``async_op=True``), or the one ``register_comm_hook`` set; it returns a Future
while backward goes on. Each later hook tests the operations in flight (MPI progresses a
non-blocking collective only inside MPI calls). A callback queued on the autograd engine waits for
every Future when backward ends and writes the averages back into ``.grad`` (with
``gradient_as_bucket_view=True`` the ``.grad`` are views of the buckets, and nothing is copied
back when the hook reduced the buffer in place).
"""
import contextlib
import inspect
import weakref

import gradcore
from ..._legacy import Variable
from ...futures import Future
from ..modules.module import Module

_FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES
_BROADCAST_BUCKET_BYTES = 250 * 1024 * 1024  # PyTorch's _DEFAULT_BROADCAST_BUCKET_SIZE


def _dist():
    from ... import distributed as dist
    if not dist.is_initialized():
        raise RuntimeError("DistributedDataParallel: Default process group has not been initialized, please make "
                           "sure to call init_process_group. Hint: gradcore.distributed.init_process_group() under "
                           "`python -m gradcore.distributed.run --nproc-per-node N script.py` or mpiexec.")
    return dist


def _broadcast_coalesced(dist, tensors, src, group):
    """Broadcasts ``tensors`` from global rank ``src``, flattened into few messages per dtype."""
    by_dtype = {}
    for t in tensors:
        by_dtype.setdefault((t.dtype, t.device), []).append(t)
    with gradcore.no_grad():
        for ts in by_dtype.values():
            chunk, size = [], 0
            for t in ts + [None]:
                if t is not None and (not chunk or size + t.numel() * t.element_size() <= _BROADCAST_BUCKET_BYTES):
                    chunk.append(t)
                    size += t.numel() * t.element_size()
                    continue
                flat = gradcore.cat([c.reshape(-1) for c in chunk])
                dist.broadcast(flat, src=src, group=group)
                offset = 0
                for c in chunk:
                    c.copy_(flat[offset:offset + c.numel()].view(c.shape))
                    offset += c.numel()
                if t is not None:
                    chunk, size = [t], t.numel() * t.element_size()


class _Bucket:
    """Parameters whose gradients are all-reduced together, through one flat buffer."""

    def __init__(self, index, params):
        self.index = index
        self.params = params
        self.offsets, n = [], 0
        for p in params:
            self.offsets.append(n)
            n += p.numel()
        self.buffer = gradcore.zeros(n, dtype=params[0].dtype, device=params[0].device)
        self.pending = len(params)
        self.future = None  # the communication hook's Future, once launched

    def view(self, i):
        p = self.params[i]
        return self.buffer[self.offsets[i]:self.offsets[i] + p.numel()].view(p.shape)


class DistributedDataParallel(Module):
    """Data-parallel training: wraps ``module`` so that ``backward()`` averages the gradients of its
    parameters across the ranks of ``process_group`` (PyTorch's DistributedDataParallel).

    At construction, the parameters and buffers of rank 0 are broadcast to every rank. Each rank
    then runs forward and backward on its own batch; when ``backward()`` returns, every parameter's
    ``.grad`` holds the mean of the ranks' gradients (the gradient of the mean loss over the union
    of the batches, when the ranks' batches have the same size).

    Args:
        module: the module to replicate (its parameters live on one device).
        device_ids: for a CUDA module, ``[device index]`` or None; None for a CPU module.
        output_device: accepted as PyTorch does (the output stays where the module puts it).
        dim: the batch dimension (accepted for compatibility; each rank passes its own batch).
        broadcast_buffers: broadcast rank 0's buffers (BatchNorm's running statistics) at the start
            of every forward.
        init_sync: broadcast rank 0's parameters and buffers at construction.
        process_group: the group to average over; the default group when None.
        bucket_cap_mb: the size of a bucket of gradients, in MiB (default 25).
        find_unused_parameters: find, after every forward, the parameters the output does not
            depend on, so backward does not wait for their gradients. A parameter no rank used
            keeps its ``.grad``; one that some rank used gets the average (zeros for the others).
        gradient_as_bucket_view: make every ``.grad`` a view of its bucket, saving a copy and the
            memory of the gradients.
        static_graph: the set of parameters used is the same in every iteration: it is found in
            the first forward and reused (unused parameters work without
            ``find_unused_parameters``).

    Use ``no_sync()`` to accumulate gradients locally over several backward passes; the next
    backward outside it averages the sum. ``register_comm_hook(state, hook)`` replaces the
    all-reduce of each bucket by ``hook(state, bucket)`` (gradcore.distributed.algorithms.
    ddp_comm_hooks.default_hooks has PyTorch's).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        dist = _dist()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be a gradcore.nn.Module, got {type(module).__name__}")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that "
                               "requires a gradient.")
        devices = {p.device for p in module.parameters()}
        if len(devices) > 1:
            raise ValueError(f"DistributedDataParallel: the module's parameters are on several devices {sorted(map(str, devices))}; "
                             "DDP replicates a module that lives on one device. Hint: module.to(device) first.")
        device = next(iter(devices))
        if device.type == "cpu" and (device_ids is not None or output_device is not None):
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             f"single-device/multiple-device GPU modules or CPU modules, but got device_ids {device_ids}, "
                             f"output_device {output_device}, and module parameters {{{device}}}. Hint: leave them "
                             "None for a CPU module.")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        object.__setattr__(self, "process_group", process_group)
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._world_size = dist.get_world_size(process_group)
        self._src = dist.get_global_rank(process_group, 0) if process_group is not None else 0
        if init_sync:
            _broadcast_coalesced(dist, list(module.parameters()) + list(module.buffers()), self._src, process_group)
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_buckets", self._make_buckets(params))
        object.__setattr__(self, "_where", {})  # id(param) -> (bucket, index in it)
        for b in self._buckets:
            for i, p in enumerate(b.params):
                self._where[id(p)] = (b, i)
        object.__setattr__(self, "_expect_hooks", False)
        object.__setattr__(self, "_callback_queued", False)
        object.__setattr__(self, "_next_bucket", 0)
        object.__setattr__(self, "_ready", set())      # ids of the params whose gradient is in its bucket
        object.__setattr__(self, "_unused", [])        # params this rank's output did not use
        object.__setattr__(self, "_static_unused", None)
        from ...distributed.algorithms.ddp_comm_hooks import default_hooks
        object.__setattr__(self, "_comm_hook", (process_group, default_hooks.allreduce_hook))
        object.__setattr__(self, "_comm_hook_registered", False)
        self_ref = weakref.ref(self)  # the hooks must not keep the DDP object (and its buckets) alive
        object.__setattr__(self, "_hook_handles", [p.register_post_accumulate_grad_hook(_make_hook(self_ref))
                                                   for p in params])

    def _make_buckets(self, params):
        """Buckets in reverse parameter order, one dtype each: the first up to 1 MB, the others up to
        ``bucket_cap_mb`` (a parameter that crosses the cap closes its bucket)."""
        buckets, open_ = [], {}
        for p in reversed(params):
            key = (p.dtype, p.device)
            group, size = open_.get(key, ([], 0))
            group.append(p)
            size += p.numel() * p.element_size()
            cap = _FIRST_BUCKET_BYTES if not buckets else self.bucket_bytes_cap
            if size >= cap:
                buckets.append(_Bucket(len(buckets), group))
                open_.pop(key, None)
            else:
                open_[key] = (group, size)
        for group, _ in open_.values():
            buckets.append(_Bucket(len(buckets), group))
        return buckets

    def register_comm_hook(self, state, hook):
        """Reduces each bucket with ``hook(state, bucket)`` instead of the built-in all-reduce.

        ``bucket`` is a gradcore.distributed.GradBucket (its flat ``buffer()`` holds this rank's
        gradients, not divided by the world size); the hook returns a gradcore.futures.Future
        whose value is a tensor of the buffer's size: the averaged gradients, which DDP writes
        into ``.grad`` when backward ends. It runs during backward, as soon as the bucket is
        ready, so its communication overlaps the rest of backward; every rank runs it on the
        same buckets in the same order. ``state`` is whatever the hook needs (the built-in hooks
        take the process group, None for the default one). Registered once, before training.
        """
        if not callable(hook):
            raise TypeError("Communication hook must be callable.")
        dist = _dist()
        sig = inspect.signature(hook)
        bucket = sig.parameters.get("bucket")
        if bucket is not None and bucket.annotation not in (inspect.Parameter.empty, dist.GradBucket):
            raise ValueError("Communication hook: bucket annotation should be dist.GradBucket.")
        if sig.return_annotation not in (inspect.Signature.empty, Future[gradcore.Tensor]):
            raise ValueError("Communication hook: return annotation should be torch.futures.Future[torch.Tensor].")
        if self._comm_hook_registered:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        self._comm_hook = (state, hook)
        self._comm_hook_registered = True

    # ---- forward ----
    def forward(self, *inputs, **kwargs):
        dist = _dist()
        if self.broadcast_buffers and self.require_forward_param_sync:
            buffers = list(self.module.buffers())
            if buffers and self._world_size > 1:
                _broadcast_coalesced(dist, buffers, self._src, self.process_group)
        sync = gradcore.is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self._prepare_for_backward()
        else:  # this forward's backward (no_sync, or a graph without grad) averages nothing
            self._expect_hooks = False
        out = self.module(*inputs, **kwargs)
        if sync and (self.find_unused_parameters or self.static_graph):
            self._mark_unused(out)
        return out

    def _prepare_for_backward(self):
        for b in self._buckets:
            b.pending = len(b.params)
            b.future = None
        self._next_bucket = 0
        self._ready = set()
        self._unused = []
        self._callback_queued = False
        self._expect_hooks = True

    def _mark_unused(self, out):
        """Marks ready the parameters ``out``'s graph does not reach (their slots hold zeros)."""
        if self.static_graph and self._static_unused is not None:
            unused = self._static_unused
        else:
            used = _reached_params(out)
            unused = [p for p in self._params if id(p) not in used]
            if self.static_graph:
                self._static_unused = unused
        self._unused = unused
        with gradcore.no_grad():
            for p in unused:
                b, i = self._where[id(p)]
                b.view(i).zero_()
                self._ready.add(id(p))
                b.pending -= 1

    # ---- backward: hooks, launches, the final wait ----
    def _on_grad_ready(self, p):
        if not self._expect_hooks or id(p) in self._ready:
            return
        if not self._callback_queued:
            Variable._execution_engine.queue_callback(self._finish_backward)
            self._callback_queued = True
        b, i = self._where[id(p)]
        with gradcore.no_grad():
            view = b.view(i)
            if self.gradient_as_bucket_view:
                if p.grad.data_ptr() != view.data_ptr():
                    view.copy_(p.grad)
                    p.grad = view
            else:
                view.copy_(p.grad)
        self._ready.add(id(p))
        b.pending -= 1
        for prev in self._buckets[:self._next_bucket]:
            prev.future.done()  # tests (so moves forward) the communication in flight
        self._launch_ready()

    def _launch_ready(self):
        """Runs the communication hook on the complete buckets, in bucket order (the same on every
        rank)."""
        dist = _dist()
        state, hook = self._comm_hook
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            b = self._buckets[self._next_bucket]
            bucket = dist.GradBucket(b.index, b.index == len(self._buckets) - 1, b.buffer,
                                     [b.view(i) for i in range(len(b.params))], b.params)
            b.future = hook(state, bucket)
            if not isinstance(b.future, Future):
                raise TypeError(f"DistributedDataParallel: the communication hook {_hook_name(hook)} must return a "
                                f"gradcore.futures.Future (of the reduced bucket), got {type(b.future).__name__}")
            self._next_bucket += 1

    def _reduced_bucket(self, b):
        """Waits for bucket ``b``'s Future and puts its value (the reduced gradients) in b.buffer."""
        result = b.future.wait()
        if not isinstance(result, gradcore.Tensor) or result.numel() != b.buffer.numel():
            what = (f"a tensor of {result.numel()} elements" if isinstance(result, gradcore.Tensor)
                    else type(result).__name__)
            raise RuntimeError(f"DistributedDataParallel: the Future of communication hook "
                               f"{_hook_name(self._comm_hook[1])} must hold a tensor of the bucket's "
                               f"{b.buffer.numel()} elements, got {what}. Hint: return the future of the reduction of "
                               "bucket.buffer() (or .then() a function returning it).")
        if result.data_ptr() != b.buffer.data_ptr() or result.dtype != b.buffer.dtype:
            b.buffer.copy_(result.reshape(-1))

    def _finish_backward(self):
        self._expect_hooks = False
        if self._next_bucket < len(self._buckets):
            missing = [p for p in self._params if id(p) not in self._ready]
            if not self.find_unused_parameters:
                names = {id(p): n for n, p in self.module.named_parameters()}
                raise RuntimeError(
                    "DistributedDataParallel: Expected to have finished reduction in the prior iteration before "
                    "starting a new one. This error indicates that your module has parameters that were not used in "
                    "producing loss: " + ", ".join(names.get(id(p), "?") for p in missing) + ". You can enable "
                    "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                    "`gradcore.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                    "participate in calculating loss.")
            with gradcore.no_grad():  # no gradient reached them in this backward: zeros
                for p in missing:
                    b, i = self._where[id(p)]
                    b.view(i).zero_()
                    self._ready.add(id(p))
                    b.pending -= 1
                    self._unused.append(p)
            self._launch_ready()
        unused = {id(p) for p in self._unused}
        used_anywhere = set()
        if self._unused or self.find_unused_parameters:  # every rank takes part in this all-reduce
            used = gradcore.tensor([0 if id(p) in unused else 1 for p in self._params], dtype=gradcore.int64)
            _dist().all_reduce(used, group=self.process_group)
            used_anywhere = {id(p) for p, u in zip(self._params, used.tolist()) if u}
        with gradcore.no_grad():
            for b in self._buckets:
                self._reduced_bucket(b)
                for i, p in enumerate(b.params):
                    if id(p) in unused and id(p) not in used_anywhere:
                        continue  # no rank used it: its .grad stays as it was
                    view = b.view(i)
                    if p.grad is None:
                        p.grad = view if self.gradient_as_bucket_view else view.clone()
                    elif p.grad.data_ptr() != view.data_ptr():
                        p.grad.copy_(view)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients locally; the first backward after it averages them."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


def _hook_name(hook):
    return repr(getattr(hook, "__qualname__", repr(hook)))


def _make_hook(self_ref):
    def hook(p):
        ddp = self_ref()
        if ddp is not None:
            ddp._on_grad_ready(p)
    return hook


def _reached_params(out):
    """ids of the leaf tensors that the graphs of the tensors in ``out`` reach."""
    stack, seen, found = [], {}, set()  # seen keeps the node objects alive, so their ids stay theirs

    def add_roots(o):
        if isinstance(o, gradcore.Tensor):
            if o.grad_fn is not None:
                stack.append(o.grad_fn)
            elif o.requires_grad:
                found.add(id(o))
        elif isinstance(o, (list, tuple)):
            for x in o:
                add_roots(x)
        elif isinstance(o, dict):
            for x in o.values():
                add_roots(x)

    add_roots(out)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        if node.name() == "AccumulateGrad":
            found.add(id(node.variable))
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None:
                stack.append(nxt)
    return found
