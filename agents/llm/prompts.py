"""Render the Jinja2 prompt templates in `prompts/` (strict undefined, shared partials, user overrides)
and hash each rendering for the audit trail."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict

import lumos.prompts
from lumos.tools.errors import InputError

BUNDLED_PROMPTS = Path(lumos.prompts.__file__).resolve().parent


class RenderedPrompt(BaseModel):
    """One rendered template, its name and the sha256 of the text (recorded in the audit trail)."""

    model_config = ConfigDict(frozen=True)

    template: str
    text: str
    sha256: str


class PromptRenderer:
    """Renders `<name>.j2` from an override folder first, then the bundled `prompts/`; undefined variables are errors."""

    def __init__(self, override_dir: Path | None = None):
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(Path(override_dir).expanduser())))
        loaders.append(jinja2.FileSystemLoader(str(BUNDLED_PROMPTS)))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined, autoescape=False,
            keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
        )

    def render(self, name: str, **variables: Any) -> RenderedPrompt:
        """Render template `name` (without `.j2`); a missing template or variable is an InputError naming it."""
        template_name = f"{name}.j2"
        try:
            text = self.env.get_template(template_name).render(**variables).strip() + "\n"
        except jinja2.TemplateNotFound as exc:
            raise InputError(f"prompt template {exc.name!r} not found in {BUNDLED_PROMPTS}") from None
        except jinja2.UndefinedError as exc:
            raise InputError(f"prompt template {template_name}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(f"prompt template {exc.name or template_name} line {exc.lineno}: {exc.message}") from None
        return RenderedPrompt(template=template_name, text=text, sha256=hashlib.sha256(text.encode()).hexdigest())
