"""Hand-written assembly kernels (conv.s, pool.s, eltwise.s) and their host side.

Each kernel reads places (kernels/place.py) and runs as a launch (kernels/launch.py):
a program assembled once per width and variant, a descriptor in GM.  The planners
(`plan_conv`, `plan_pool`, `plan_eltwise`) turn a layer and its places into launches
for a compiler; the standalone drivers (`conv2d`, `linear`, `maxpool2d`, `avgpool2d`,
`global_avgpool`, `add`, `convert`, `requantize`) lay one layer out in GM, run it on a
cached machine and read the result back.
"""

from .conv import ConvLayer, ConvPlan, conv2d, linear, plan_conv
from .eltwise import EltwiseLayer, EltwisePlan, add, convert, plan_eltwise, requantize
from .launch import Launch, program, program_key, run_launches, seed_word
from .place import Place, pack_place, read_place, unpack_place, write_place
from .pool import (
    PoolLayer,
    PoolPlan,
    avg_multiplier,
    avgpool2d,
    global_avgpool,
    maxpool2d,
    plan_pool,
)
from .standalone import KernelResult

__all__ = [
    "ConvLayer", "ConvPlan", "EltwiseLayer", "EltwisePlan", "KernelResult", "Launch", "Place",
    "PoolLayer", "PoolPlan", "add", "avg_multiplier", "avgpool2d", "conv2d", "convert",
    "global_avgpool", "linear", "maxpool2d", "pack_place", "plan_conv", "plan_eltwise",
    "plan_pool", "program", "program_key", "read_place", "requantize", "run_launches",
    "seed_word", "unpack_place", "write_place",
]
