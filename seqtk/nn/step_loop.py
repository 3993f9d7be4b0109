"""Many steps of a language model's ONNX step (:mod:`seqtk.nn.step_graph`) in one onnxruntime call: an ONNX
``Loop`` whose body is the step, each picked token fed back (``OnnxStepper.sample_run`` runs it)."""

from __future__ import annotations

from typing import Any

from seqtk.nn.step_graph import StepGraph


def loop_graph(step: StepGraph) -> Any:
    """``steps`` steps of ``step`` (built with a sampler) in one onnxruntime call: an ONNX ``Loop`` whose body is
    the step, each picked token fed back to the next iteration.

    Looping in the graph saves each token its Python round trip into onnxruntime (~25 µs of a 135 µs float32
    step at batch 1, docs/performance.md); the body runs the step's own nodes, so the tokens equal those of
    one call per step. Inputs: ``steps`` () int64, ``token_init`` (B,), each state part as ``<name>_init``,
    ``noise_all`` (steps, B, V) of the race's draws (race samplers) and ``temperature`` (race_tempered).
    Outputs: ``token_final`` (B,), each state part as ``<name>_final``, and ``tokens`` (steps, B).
    """
    import onnx
    from onnx import TensorProto, helper

    body = step.model.graph
    given = {value.name for value in body.input}
    if "next_token" not in {value.name for value in body.output}:
        raise ValueError("the step graph picks no token: build it with a sampler")
    race = "noise" in given
    nodes = []
    if race:  # this iteration's draws, from the outer graph's (steps, B, V)
        nodes.append(helper.make_node("Gather", ["noise_all", "iter"], ["noise"], axis=0))
    nodes += list(body.node)
    nodes.append(helper.make_node("Identity", ["next_token"], ["token_scan"]))
    state = [value for value in body.input if value.name in step.state_names]
    token = next(value for value in body.input if value.name == "token")
    outs = {value.name: value for value in body.output}
    body_in = [helper.make_tensor_value_info("iter", TensorProto.INT64, []),
               helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), token, *state]  # fmt: skip
    body_out = [helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []), outs["next_token"],
                *(outs[f"{name}_out"] for name in step.state_names),
                helper.make_tensor_value_info("token_scan", TensorProto.INT64, ["B"])]  # fmt: skip
    loop_body = helper.make_graph(nodes, "seqtk_lm_step_body", body_in, body_out, list(body.initializer))
    names = step.state_names
    outer_in = [helper.make_tensor_value_info("steps", TensorProto.INT64, []),
                helper.make_tensor_value_info("token_init", TensorProto.INT64, ["B"])]  # fmt: skip
    outer_in += [_renamed(value, f"{value.name}_init") for value in state]
    outer_in += [_renamed(value, "noise_all", prepend="S") for value in body.input if value.name == "noise"]
    outer_in += [value for value in body.input if value.name == "temperature"]
    outer_out = [helper.make_tensor_value_info("token_final", TensorProto.INT64, ["B"])]
    outer_out += [_renamed(outs[f"{name}_out"], f"{name}_final") for name in names]
    outer_out.append(helper.make_tensor_value_info("tokens", TensorProto.INT64, ["S", "B"]))
    loop = helper.make_node("Loop", ["steps", "", "token_init", *(f"{name}_init" for name in names)],
                            ["token_final", *(f"{name}_final" for name in names), "tokens"], body=loop_body)  # fmt: skip
    graph = helper.make_graph([loop], "seqtk_lm_steps", outer_in, outer_out)
    model = helper.make_model(graph, opset_imports=list(step.model.opset_import), producer_name="seqtk")
    model.ir_version = step.model.ir_version
    onnx.checker.check_model(model)
    return model


def _renamed(value: Any, name: str, prepend: str | None = None) -> Any:
    """A copy of the value info ``value`` under ``name`` (with a leading dimension ``prepend``)."""
    from onnx import helper

    tensor = value.type.tensor_type
    dims = [dim.dim_param or dim.dim_value for dim in tensor.shape.dim]
    return helper.make_tensor_value_info(name, tensor.elem_type, ([prepend] if prepend else []) + dims)
