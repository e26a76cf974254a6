"""Simulating samples one by one, serially or with any executor.

Every sample is simulated on its own from a reset simulator, with its own
seed, so a sample's result does not depend on which worker runs it or which
other samples share its chunk. A `Plan` holds what a worker needs (the
network, the input Nodes and the probes); workers in other threads or
processes receive it pickled, build their simulator once and keep it for
every chunk they are given.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import os
import pickle
import threading
import time
import uuid
import warnings

import nengo
import numpy as np

from ..conversion.node_functions import KerasFunction, NodeFunction
from ..converters.fallback import KerasCall

EXECUTORS = ("serial", "auto", "threads", "processes")


class Plan:
    """What a worker needs to simulate samples: picklable if the network is.

    Attributes
    ----------
    net : nengo.Network
        The network to build (it contains every probe below).
    feeds : list of nengo.Node
        Input Nodes whose output is an ``InputFeed``, in model input order.
    probes, shapes : list
        Probes recorded at every step, and the shape of one step of each.
    sums : list of nengo.Probe
        Probes whose output is only summed over the steps of each sample.
    """

    def __init__(self, net, feeds, probes, shapes, sums, dt, simulator, seed, sim_kwargs):
        self.net = net
        self.feeds = list(feeds)
        self.probes = list(probes)
        self.shapes = [tuple(s) for s in shapes]
        self.sums = list(sums)
        self.dt = dt
        self.simulator = simulator
        self.seed = seed
        self.sim_kwargs = dict(sim_kwargs)

    def build(self):
        kwargs = dict(self.sim_kwargs)
        if isinstance(self.simulator, type) and issubclass(self.simulator, nengo.Simulator):
            # no decoder cache: converted networks solve no decoders, and
            # parallel workers would contend for the cache's lock
            kwargs.setdefault(
                "model",
                nengo.builder.Model(
                    dt=self.dt, decoder_cache=nengo.cache.NoDecoderCache()
                ),
            )
        return self.simulator(
            self.net, dt=self.dt, seed=self.seed, progress_bar=False, **kwargs
        )


def simulate(sim, plan, inputs, seeds, n_steps, progress=None):
    """Run every sample of ``inputs`` from a reset state in simulator ``sim``.

    Returns ``(outputs, sums)``: per probe ``(batch, n_steps, *shape)`` arrays,
    and per summed probe ``(batch, size)`` arrays of sums over the steps.
    """
    batch = inputs[0].shape[0]
    outputs = [np.zeros((batch, n_steps) + s) for s in plan.shapes]
    sums = [np.zeros((batch, p.size_in)) for p in plan.sums]
    try:
        for i in range(batch):
            for node, data in zip(plan.feeds, inputs):
                node.output.set(data[i], plan.dt)
            sim.reset(seed=int(seeds[i]))
            _reseed_neurons(sim, int(seeds[i]))
            sim.run_steps(n_steps)
            for out, p, shape in zip(outputs, plan.probes, plan.shapes):
                out[i] = np.asarray(sim.data[p][-n_steps:]).reshape((n_steps,) + shape)
            for total, p in zip(sums, plan.sums):
                total[i] = np.sum(sim.data[p][-n_steps:], axis=0)
            if progress is not None:
                progress(1)
    finally:
        for node in plan.feeds:
            node.output.set(None, plan.dt)
    return outputs, sums


def _reseed_neurons(sim, seed):
    """Reseed stochastic neurons' generators (e.g. `nengo.PoissonSpiking`).

    Nengo keeps them in the built operators and ``reset`` leaves them alone,
    so without this a sample's spikes would depend on the samples run before
    it in the same simulator.
    """
    from nengo.builder.neurons import SimNeurons

    operators = getattr(getattr(sim, "model", None), "operators", ())
    k = 0
    for op in operators:
        if not isinstance(op, SimNeurons):
            continue
        for value in op.state_extra.values():
            if isinstance(value, np.random.RandomState):
                value.seed(np.random.SeedSequence([seed, k]).generate_state(1)[0])
                k += 1


# --- workers -----------------------------------------------------------------

_local = threading.local()  # per worker thread: (key, plan, simulator)
_payloads = {}  # key -> pickled Plan, preloaded in our own process pools


def _preload(key, payload):
    _one_blas_thread()
    _payloads.clear()
    _payloads[key] = payload


def _one_blas_thread():
    """Limit BLAS to one thread in a worker process: with a thread per CPU in
    every worker, the workers' BLAS threads oversubscribe the cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: installed with scikit-learn
        return
    threadpool_limits(1)


def _work(key, payload, inputs, seeds, n_steps):
    """Simulate one chunk in a worker, building its simulator on first use."""
    cached = getattr(_local, "cached", None)
    if cached is None or cached[0] != key:
        if cached is not None:
            cached[2].close()
            _local.cached = None
        with warnings.catch_warnings():
            # harmless: nengo re-checks pass-through Nodes when unpickling them
            warnings.filterwarnings("ignore", message=".*being overwritten")
            plan = pickle.loads(payload if payload is not None else _payloads[key])
            _local.cached = (key, plan, plan.build())
    _, plan, sim = _local.cached
    return simulate(sim, plan, inputs, seeds, n_steps)


def sample_seeds(seed, n):
    """Build seed and one seed per sample (so results do not depend on chunking)."""
    if seed is None:
        seed = int(np.random.randint(2**31))
    return int(seed), (int(seed) + 1 + np.arange(n)) % 2**32


def run_plan(plan, inputs, n_steps, seeds, *, executor=None, n_workers=None,
             chunk_size=None, progress_bar=False, on_sums=None):
    """Simulate every sample of ``inputs`` with ``plan``.

    ``executor`` is None or ``"serial"`` (in this process), ``"auto"`` (see
    `choose_executor`), ``"threads"``, ``"processes"``, or any
    `concurrent.futures.Executor` (e.g. a Dask client's
    ``client.get_executor()``). Samples go to workers in chunks of
    ``chunk_size``.

    Returns the outputs, per probe ``(batch, n_steps, *shape)``. The per-sample
    sums of ``plan.sums`` are handed to ``on_sums(list of (chunk, size) arrays)``
    chunk by chunk, in sample order whatever order the workers finish in, so
    that folding them gives the same result for every executor.
    """
    batch = inputs[0].shape[0]
    on_sums = on_sums or (lambda sums: None)
    with _progress(progress_bar, batch, "samples") as progress:
        mode = _mode(executor, n_workers, batch)
        parts, done = [], 0
        if mode == "auto":
            mode, parts, done = _measure_then_choose(
                plan, inputs, seeds, n_steps, n_workers, progress, on_sums
            )
            inputs, seeds = [a[done:] for a in inputs], seeds[done:]
            if done == batch:
                return _concat(parts)
        payload = None
        if mode != "serial":
            payload, mode = _pickle_plan(plan, mode)
        if mode == "serial":
            with plan.build() as sim:
                parts += _serial(sim, plan, inputs, seeds, n_steps, chunk_size, progress, on_sums)
            return _concat(parts)
        return _concat(parts + _pooled(
            plan, inputs, seeds, n_steps, mode, executor, n_workers, chunk_size,
            payload, progress, on_sums,
        ))


def _serial(sim, plan, inputs, seeds, n_steps, chunk_size, progress, on_sums):
    size = chunk_size or 64  # bounds the memory the sums take
    parts = []
    for s in range(0, inputs[0].shape[0], size):
        e = min(s + size, inputs[0].shape[0])
        chunk = [a[s:e] for a in inputs]
        outputs, sums = simulate(sim, plan, chunk, seeds[s:e], n_steps, progress)
        on_sums(sums)
        parts.append(outputs)
    return parts


def _pooled(plan, inputs, seeds, n_steps, mode, executor, n_workers, chunk_size,
            payload, progress, on_sums):
    batch = inputs[0].shape[0]
    workers = _n_workers(executor, n_workers)
    size = chunk_size or max(1, math.ceil(batch / (4 * workers)))
    chunks = [(s, min(s + size, batch)) for s in range(0, batch, size)]
    with _executor(mode, executor, workers, len(chunks), payload) as (pool, key, send):
        futures = {
            pool.submit(
                _work, key, send, [a[s:e] for a in inputs], seeds[s:e], n_steps
            ): i
            for i, (s, e) in enumerate(chunks)
        }
        outputs, pending, folded = [None] * len(chunks), {}, 0
        for future in cf.as_completed(futures):
            i = futures[future]
            outputs[i], pending[i] = future.result()
            progress(chunks[i][1] - chunks[i][0])
            while folded in pending:
                on_sums(pending.pop(folded))
                folded += 1
    return outputs


# worker start-up measured on Linux (fork): a pool of 2 starts and answers its
# first tasks in about 0.15 s; each worker then unpickles the plan and builds
# its own simulator (as long as the build here)
POOL_START_S = 0.2


def choose_executor(per_sample_s, build_s, n_left, workers, free_cpus):
    """``"processes"`` if a process pool is expected to finish ``n_left``
    samples sooner than this process alone, else ``"serial"``.

    The pool's time is its start-up, one simulator build per worker (in
    parallel) and the samples spread over the workers that have a free CPU
    (other processes' load counts: on a busy machine processes do not pay).

    Examples
    --------
    >>> choose_executor(0.5, 1.0, n_left=1000, workers=8, free_cpus=8.0)
    'processes'
    >>> choose_executor(0.01, 1.0, n_left=50, workers=2, free_cpus=2.0)
    'serial'
    """
    effective = max(1.0, min(float(workers), free_cpus))
    serial = n_left * per_sample_s
    pooled = POOL_START_S + build_s + serial / effective
    return "processes" if workers >= 2 and pooled < 0.8 * serial else "serial"


def _measure_then_choose(plan, inputs, seeds, n_steps, n_workers, progress, on_sums):
    """Run the first samples here, timing the build and the samples, then
    choose where the rest runs; returns ``(mode, outputs so far, n done)``."""
    batch = inputs[0].shape[0]
    first = max(1, min(4, batch // 16))
    start = time.perf_counter()
    sim = plan.build()
    build_s = time.perf_counter() - start
    try:
        start = time.perf_counter()
        parts = _serial(sim, plan, [a[:first] for a in inputs], seeds[:first], n_steps,
                        None, progress, on_sums)
        per_sample = (time.perf_counter() - start) / first
        workers = _n_workers("processes", n_workers)
        mode = choose_executor(per_sample, build_s, batch - first, workers, _free_cpus())
        if mode == "serial":
            rest = [a[first:] for a in inputs]
            parts += _serial(sim, plan, rest, seeds[first:], n_steps, None, progress, on_sums)
            return mode, parts, batch
        return mode, parts, first
    finally:
        sim.close()


def _free_cpus():
    """CPUs not busy with other processes (1-minute load average)."""
    try:
        load = os.getloadavg()[0] - 1.0  # this process is busy simulating
    except (AttributeError, OSError):
        load = 0.0
    return max(1.0, _cpus() - max(load, 0.0))


def _concat(parts):
    return [np.concatenate(arrays) for arrays in zip(*parts)]


def _mode(executor, n_workers, batch):
    if isinstance(executor, cf.Executor):
        return "executor"
    executor = "serial" if executor is None else executor
    if executor not in EXECUTORS:
        raise ValueError(
            f"executor={executor!r}: expected None, one of {EXECUTORS} or a "
            f"concurrent.futures.Executor (e.g. client.get_executor() in Dask)"
        )
    if executor != "serial" and (batch < 2 or _n_workers("processes", n_workers) < 2):
        return "serial"
    return executor


def _n_workers(executor, n_workers):
    if n_workers is not None:
        if int(n_workers) < 1:
            raise ValueError(f"n_workers must be at least 1, got {n_workers!r}")
        return int(n_workers)
    if isinstance(executor, cf.Executor):
        return getattr(executor, "_max_workers", None) or _cpus()
    return _cpus()


def _cpus():
    """CPUs this process may use (fewer than the machine's in containers)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _pickle_plan(plan, mode):
    """Pickle ``plan`` for other workers; fall back to serial if it can't be."""
    if mode == "processes" and _calls_keras(plan.net):
        warnings.warn(
            "the network has fallback Nodes that call Keras, which is not safe in "
            "forked worker processes; running in threads instead",
            UserWarning,
            stacklevel=4,
        )
        mode = "threads"
    try:
        payload = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*being overwritten")
            pickle.loads(payload)  # what a worker will do (e.g. Keras layers may fail)
        return payload, mode
    except Exception as e:  # noqa: BLE001  (any pickling failure means: serial)
        warnings.warn(
            f"the network cannot be pickled for parallel workers ({type(e).__name__}: "
            f"{e}); running the samples serially instead. Nodes must use "
            f"module-level functions or picklable objects to run in parallel",
            UserWarning,
            stacklevel=4,
        )
        return None, "serial"


def _calls_keras(net):
    for node in net.all_nodes:
        fn = node.output
        fn = fn.fn if isinstance(fn, NodeFunction) else fn
        if isinstance(fn, (KerasFunction, KerasCall)):
            return True
    return False


@contextlib.contextmanager
def _executor(mode, executor, workers, n_chunks, payload):
    """Yield ``(executor, key, payload to send with each chunk)``."""
    key = uuid.uuid4().hex
    if mode == "executor":
        yield executor, key, payload
        return
    workers = min(workers, n_chunks)
    if mode == "threads":
        pool = cf.ThreadPoolExecutor(workers)
        send = payload
    else:
        # the plan travels once per process, not once per chunk
        pool = cf.ProcessPoolExecutor(workers, initializer=_preload, initargs=(key, payload))
        send = None
    try:
        yield pool, key, send
    finally:
        # worker threads/processes end here, freeing the simulators they cached
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _progress(enabled, total, desc):
    if not enabled:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit="sample") as bar:
        yield bar.update
