"""flowc on a Ray cluster: engine replicas as Ray actors, and runs and requests routed to them.

    pool = ReplicaPool(ReplicaSpec(model="default"), replicas=2)   # a local Ray without address
    await pool.start()
    runtime = ClusterRuntime(pool)              # the `run` of executor.WorkflowRuntime
    result = await runtime.run(plan, inputs)    # on the replica holding the plan's prefixes
    engine = RoutedEngine(pool)                 # an EngineAPI routing by prompt prefix
    pool.stop(); shutdown_ray()

Ray is optional (`pip install 'flowc[cluster]'`); importing this package never needs it, and
`ReplicaPool.start` raises `ClusterError` without it.
"""

from cluster.engine import RoutedEngine
from cluster.pool import Attempt, ClusterError, ReplicaPool, ReplicaState
from cluster.routing import Router, plan_key, prompt_key
from cluster.runtime import ClusterRuntime
from cluster.spec import ReplicaSpec


def ray_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def shutdown_ray() -> None:
    """Stop the Ray this process started or joined (nothing when Ray is not running)."""
    if ray_installed():
        import ray

        ray.shutdown()


__all__ = [
    "Attempt",
    "ClusterError",
    "ClusterRuntime",
    "ReplicaPool",
    "ReplicaSpec",
    "ReplicaState",
    "RoutedEngine",
    "Router",
    "plan_key",
    "prompt_key",
    "ray_installed",
    "shutdown_ray",
]
