"""lumos.agents.llm: model-backed agent loops over the typed tools.

- `config`: models per role (`openai:MODEL[@BASE_URL]`), ChatOpenAI/AzureChatOpenAI construction;
- `loop`: the bounded tool-calling loop (iterations, tokens, time, retries) -> draft or failure;
- `agent`: prompts + loop + draft -> the role's report, or the offline report with the reason;
- `coordinator_agent`, `log_agent`, `dependency_agent`, `runbook_agent`: each role's tools and loop;
- `prompts` (Jinja2 templates in `prompts/`), `redact`, `untrusted` (data fences), `pricing`;
- `chat`: the triage chat's checkpointed history and read-only tools;
- `scripted`: `ScriptedChatModel`, a network-free chat model for tests and adversarial runs.
"""
