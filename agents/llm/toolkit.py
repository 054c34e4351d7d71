"""Agent tools for model loops: a name, a description written for the model, a pydantic argument
schema and a function returning a status envelope (success / error / no_data), never raising."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from lumos.tools.errors import LumosError


class ToolEnvelope(BaseModel):
    """What every agent tool returns: a status, the data when there is some, an error message otherwise."""

    status: Literal["success", "error", "no_data"]
    data: Any = None
    error: str | None = None


class NoArgs(BaseModel):
    """This tool takes no arguments."""

    model_config = ConfigDict(extra="forbid")


class AgentTool:
    """One tool offered to a model; `run` validates the arguments and always returns an envelope."""

    def __init__(self, name: str, description: str, args: type[BaseModel], fn: Callable[[Any], Any]):
        self.name = name
        self.description = description
        self.args = args
        self.fn = fn

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool schema given to `bind_tools`."""
        params = self.args.model_json_schema()
        params.pop("title", None)
        params.pop("description", None)
        return {"type": "function", "function": {"name": self.name, "description": self.description, "parameters": params}}

    def run(self, raw_args: dict[str, Any]) -> ToolEnvelope:
        """Validate `raw_args` and call the tool; bad arguments and tool failures become error envelopes."""
        try:
            args = self.args.model_validate(raw_args or {})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors()[:5])
            return ToolEnvelope(status="error", error=f"invalid arguments for {self.name}: {problems}")
        try:
            result = self.fn(args)
        except LumosError as exc:
            return ToolEnvelope(status="error", error=f"{self.name} failed: {exc}")
        except Exception as exc:  # a tool bug becomes an error the model can read, never a crashed incident
            return ToolEnvelope(status="error", error=f"{self.name} failed: {type(exc).__name__}: {exc}")
        if isinstance(result, ToolEnvelope):
            return result
        if result is None or result == [] or result == {}:
            return ToolEnvelope(status="no_data")
        return ToolEnvelope(status="success", data=result)


def tool(name: str, args: type[BaseModel] = NoArgs) -> Callable[[Callable[[Any], Any]], AgentTool]:
    """Decorator: turn a function into an AgentTool; its docstring is the model's description of the tool."""

    def wrap(fn: Callable[[Any], Any]) -> AgentTool:
        return AgentTool(name, " ".join((fn.__doc__ or name).split()), args, fn)

    return wrap


def to_jsonable(value: Any) -> Any:
    """Pydantic models and containers of them as plain JSON data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value
