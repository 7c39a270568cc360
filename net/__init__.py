"""net: whole networks on the array, from ONNX.

model.onnx --onnx_import--> Graph --quantize--> QGraph --plan--> Plan (GM addresses)
--compile--> launches --runtime--> one Machine: parameters written once, per batch the
input written and the output read (docs/network.md).
"""
