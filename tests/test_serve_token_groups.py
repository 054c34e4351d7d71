from lumos.app.server.config import parse_tokens


def test_token_groups_parse():
    tokens = parse_tokens("dana:approver+dba:aaaaaaaaaaaaaaaaaaaa,eve:responder:bbbbbbbbbbbbbbbbbbbb")
    assert tokens[0].groups == ["dba"] and tokens[0].name == "dana"
    assert tokens[1].groups == []
