"""Template mining: grouping, stable ids, order independence, streaming API and bounded caches."""

import random

from lumos.tools.logs.miner import TemplateMiner, template_id


def test_messages_of_one_template_share_an_id() -> None:
    miner = TemplateMiner()
    a = miner.add("Connection to db-1:5432 established in 12ms")
    b = miner.add("Connection to db-2:5432 established in 7ms")
    c = miner.add("Cache hit ratio 0.93 over last 100 requests")
    assert miner.resolve(a) == miner.resolve(b) != c
    texts = {t.text: t.count for t in miner.templates()}
    assert texts["Connection to <*> established in <*>"] == 2


def test_ids_are_stable_hashes_of_the_template_text() -> None:
    lines = [f"job {i} finished in {i * 3} ms" for i in range(20)]
    first, second = TemplateMiner(), TemplateMiner()
    first.add_many(lines)
    second.add_many(lines)
    assert [t.id for t in first.templates()] == [t.id for t in second.templates()]
    tpl = first.templates()[0]
    assert tpl.id == template_id(tpl.text)


def test_distinct_short_messages_are_not_merged() -> None:
    miner = TemplateMiner()
    ids = {miner.add(f"[instance: {i:08x}] VM {state} (Lifecycle Event)") for i, state in
           enumerate(["Started", "Stopped", "Paused", "Resumed"])}
    assert len({miner.resolve(i) for i in ids}) == 4


def test_a_slot_with_many_values_becomes_a_variable() -> None:
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"]
    miner = TemplateMiner()
    idx = miner.add_many([f"User {n} logged in from 10.0.0.{i} via web" for i, n in enumerate(names)])
    assert len({miner.id_of(i) for i in idx}) == 1
    assert miner.templates()[0].text == "User <*> logged in from <*> via web"
    assert miner.templates()[0].count == len(names)


def test_add_and_add_many_agree() -> None:
    lines = ["disk /dev/sda1 is 91% full", "disk /dev/sdb1 is 42% full", "worker 7 restarted"]
    one, bulk = TemplateMiner(), TemplateMiner()
    ids = [one.add(line) for line in lines]
    idx = bulk.add_many(lines)
    assert [one.resolve(i) for i in ids] == [bulk.id_of(i) for i in idx]


def test_the_skeleton_cache_is_bounded() -> None:
    miner = TemplateMiner(cache_size=50)
    lines = [f"event {i} kind k{chr(97 + i % 26)}{chr(97 + (i // 26) % 26)} done" for i in range(500)]
    miner.add_many(lines)
    assert len(miner._skeleton_cache) <= 50
    assert sum(t.count for t in miner.templates()) == 500
    assert [t.text for t in miner.templates()] == ["event <*> kind <*> done"]


def _mixed_lines(n: int, seed: int) -> list[str]:
    """Events told apart by a word (few values, none seen elsewhere) and by a name (many
    values, recurring across events) that only the data can tell apart."""
    rng = random.Random(seed)
    users = ["".join(rng.choice("abcdefghijklmnop") for _ in range(6)) for _ in range(6)]  # few: they recur
    out = []
    for i in range(n):
        user = rng.choice(users)
        out.append(rng.choice([
            f"[instance: {rng.getrandbits(32):08x}] VM {rng.choice(['Started', 'Stopped', 'Paused'])} (Lifecycle Event)",
            f"session opened for user {user} by uid={i % 5}",
            f"session closed for user {user}",
            f"Accepted password for {user} from 10.0.{i % 9}.{i % 200} port {40000 + i}",
        ]))
    return out


def test_templates_do_not_depend_on_line_order() -> None:
    lines = _mixed_lines(600, 1)
    results = []
    for seed in range(4):
        shuffled = lines[:]
        random.Random(seed).shuffle(shuffled)
        miner = TemplateMiner()
        miner.add_many(shuffled)
        results.append([(t.id, t.text, t.count) for t in miner.templates()])
    assert all(r == results[0] for r in results)
    texts = {text for _, text, _ in results[0]}
    assert {"[instance: <*>] VM Started (Lifecycle Event)", "[instance: <*>] VM Paused (Lifecycle Event)",
            "session opened for user <*> by uid=<*>", "session closed for user <*>",
            "Accepted password for <*> from <*> port <*>"} <= texts


def test_blocks_in_any_sizes_give_the_same_templates() -> None:
    lines = _mixed_lines(400, 2)
    whole = TemplateMiner()
    ids = [whole.id_of(i) for i in whole.add_many(lines)]
    pieces = TemplateMiner()
    idx = []
    for start in range(0, len(lines), 37):
        idx.extend(pieces.add_many(lines[start:start + 37]))
    assert [pieces.id_of(i) for i in idx] == ids
    assert [(t.id, t.count) for t in pieces.templates()] == [(t.id, t.count) for t in whole.templates()]


def test_match_does_not_add() -> None:
    miner = TemplateMiner()
    miner.add("payment 17 failed: card declined")
    assert miner.match("payment 99 failed: card declined") is not None
    assert miner.match("something else entirely") is None
    assert sum(t.count for t in miner.templates()) == 1
