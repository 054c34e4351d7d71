"""Models per agent role: parse `provider:model[@base_url]` strings and build LangChain chat models."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict

from lumos.tools.errors import InputError
from lumos.tools.settings import Settings

Role = Literal["coordinator", "log_analyst", "dependency_mapper", "runbook_executor"]
ROLES: tuple[Role, ...] = ("coordinator", "log_analyst", "dependency_mapper", "runbook_executor")
PROVIDERS = ("openai", "azure")

ModelFactory = Callable[[Role], BaseChatModel | None]
"""role -> the chat model that role uses, or None to run the role's offline analyzer."""


class ModelSpec(BaseModel):
    """Which model a role talks to: a provider, a model name and optionally an OpenAI-compatible endpoint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["openai", "azure"] = "openai"
    model: str
    base_url: str | None = None

    @property
    def label(self) -> str:
        """The spec as written in settings (`openai:gpt-4.1-mini`), used in audit records."""
        return f"{self.provider}:{self.model}" + (f"@{self.base_url}" if self.base_url else "")


def parse_model_spec(text: str) -> ModelSpec:
    """Parse `openai:gpt-4.1-mini`, `openai:llama3@http://localhost:11434/v1` or `azure:DEPLOYMENT@https://x.openai.azure.com`."""
    provider, sep, rest = text.strip().partition(":")
    if not sep or not rest:
        raise InputError(f"model {text!r} must look like 'openai:MODEL' or 'openai:MODEL@BASE_URL'", field="model")
    if provider not in PROVIDERS:
        raise InputError(f"model provider {provider!r} is not supported; use one of {', '.join(PROVIDERS)}", field="model")
    model, at, base_url = rest.partition("@")
    if not model or (at and not base_url.startswith(("http://", "https://"))):
        raise InputError(f"model {text!r}: the part after '@' must be an http(s) base URL", field="model")
    return ModelSpec.model_validate({"provider": provider, "model": model, "base_url": base_url or None})


def role_spec(settings: Settings, role: Role, env: Mapping[str, str] | None = None) -> ModelSpec:
    """The model spec of one role: its own setting, else `model`; the base URL falls back to settings, then OPENAI_BASE_URL."""
    env = os.environ if env is None else env
    spec = parse_model_spec(getattr(settings, f"{role}_model") or settings.model)
    base_url = spec.base_url or settings.llm_base_url or env.get("OPENAI_BASE_URL") or None
    return spec.model_copy(update={"base_url": base_url})


def llm_configured(settings: Settings, env: Mapping[str, str] | None = None) -> bool:
    """True when mode is llm and an API key or an endpoint is available (a local endpoint needs no key)."""
    env = os.environ if env is None else env
    return settings.mode == "llm" and bool(env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL") or settings.llm_base_url)


def build_chat_model(spec: ModelSpec, settings: Settings, env: Mapping[str, str] | None = None) -> BaseChatModel:
    """A ChatOpenAI (or AzureChatOpenAI) for `spec`; retries are LUMOS's own (bounded, with backoff), so the client's are off."""
    env = os.environ if env is None else env
    api_key = env.get("OPENAI_API_KEY") or "not-needed"
    common = {"timeout": settings.llm_timeout_s, "max_retries": 0, "temperature": 0, "max_tokens": min(4096, settings.llm_max_tokens)}
    if spec.provider == "azure":
        from langchain_openai import AzureChatOpenAI

        return AzureChatOpenAI(
            azure_deployment=spec.model, azure_endpoint=spec.base_url, api_key=env.get("AZURE_OPENAI_API_KEY") or api_key,
            api_version=env.get("OPENAI_API_VERSION", "2024-10-21"), **common,
        )
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=spec.model, base_url=spec.base_url, api_key=api_key, stream_usage=True, **common)


def settings_model_factory(settings: Settings, env: Mapping[str, str] | None = None) -> ModelFactory:
    """The factory the graph uses by default: a model per role in mode llm, None (offline) otherwise."""
    env = dict(os.environ if env is None else env)

    def factory(role: Role) -> BaseChatModel | None:
        if not llm_configured(settings, env):
            return None
        return build_chat_model(role_spec(settings, role, env), settings, env)

    return factory


def model_label(model: BaseChatModel) -> str:
    """A short name of a chat model for audit records (`gpt-4.1-mini`, `scripted`)."""
    for attr in ("model_name", "model", "deployment_name"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(model).__name__
