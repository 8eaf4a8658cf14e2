"""``ActionSpace.plain``: the public way to run the agent on your own environment, without a
library (what an outside harness or simulator uses)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import ValidationError
from workbench.agent import ActionSpace, Agent, AgentConfig, Guardrails

SEGMENTS = ["seg_a", "seg_b"]


def test_a_plain_space_has_the_slots_send_times_channels_and_send_options_asked_for():
    space = ActionSpace.plain({"greeting": 3, "offer": 4}, ("push", "sms"))
    assert [(d.name, len(d.options)) for d in space.dimensions] == [
        ("slot:greeting", 3), ("slot:offer", 4), ("timing", 168), ("channel", 2), ("send", 2)]
    assert [o.value for o in space.dimension("slot:offer").options] == [2000, 2001, 2002, 2003]
    assert [o.value for o in space.dimension("channel").options] == ["push", "sms"]
    assert space.slot_names == ["greeting", "offer"]
    assert space.template_for("sms").slots == ["greeting", "offer"]
    only_send = ActionSpace.plain({"greeting": 3}, skip=False)
    assert [o.value for o in only_send.dimension("send").options] == [True]


def test_a_space_built_again_with_more_atoms_keeps_the_ids_of_the_first_ones():
    small = ActionSpace.plain({"greeting": 2, "offer": 3})
    grown = ActionSpace.plain({"greeting": 2, "offer": 5})
    assert [o.value for o in grown.dimension("slot:offer").options][:3] == \
        [o.value for o in small.dimension("slot:offer").options]
    assert [o.features for o in grown.dimension("slot:greeting").options] == \
        [o.features for o in small.dimension("slot:greeting").options]


@pytest.mark.parametrize("slots, channels, fields", [
    ({}, ("push",), ["slots"]),
    ({"offer": 0}, ("push",), ["slots.offer"]),
    ({"offer": 2.5, "cta": True}, ("push",), ["slots.offer", "slots.cta"]),
    ({"bad name": 2}, ("push",), ["slots"]),
    ({"offer": 2}, ("push", "fax"), ["channels"]),
    ({"offer": 2}, ("push", "push"), ["channels"]),
    ({"offer": 2}, (), ["channels"]),
    ({"offer": 1000}, ("pigeon",), ["slots.offer", "channels"]),
])
def test_an_invalid_plain_space_is_refused_naming_every_field(slots, channels, fields):
    with pytest.raises(ValidationError) as e:
        ActionSpace.plain(slots, channels)
    assert [p.field for p in e.value.problems] == fields


def test_an_agent_on_a_plain_space_with_no_holdout_sends_to_everyone_and_learns():
    space = ActionSpace.plain({"greeting": 3, "offer": 3}, ("push", "email"), skip=False)
    agent = Agent(space, SEGMENTS, AgentConfig(holdout_share=0,
                                               guardrails=Guardrails(frequency_cap_7d=99)))
    rng = np.random.default_rng(0)
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(2000)],
                          "segment": rng.choice(SEGMENTS, 2000)})
    for day in range(4):
        batch = agent.decide(users, seed=day)  # replayable: no fresh draw per run
        assert batch["send"].all() and (batch["arm"] == "agent").all()
        offer = batch["choice_slot:offer"].to_numpy()
        assert set(np.unique(offer)) <= {0, 1, 2}
        assert set(np.unique(batch["choice_channel"])) <= {0, 1}
        hours = batch["choice_timing"].to_numpy() % 24
        assert ((hours >= 8) & (hours < 22)).all()  # default quiet hours are masked
        # atom 2 of the offer slot converts at 20%, the others at 2%
        reward = rng.random(len(users)) < np.where(offer == 2, 0.2, 0.02)
        agent.learn(batch, pd.DataFrame({"direct_open": reward.astype(int)}))
    beliefs = agent.beliefs("slot:offer", {"segment": 0})
    assert beliefs["p_best"].idxmax() == 2
    grown = Agent(ActionSpace.plain({"greeting": 3, "offer": 4}, ("push", "email"), skip=False),
                  SEGMENTS, agent.config, models=agent.models)
    assert grown.beliefs("slot:offer", {"segment": 0})["mean"].iloc[:3].tolist() == \
        pytest.approx(beliefs["mean"].tolist())


def test_equal_quiet_start_and_end_lift_quiet_hours_on_a_plain_space():
    space = ActionSpace.plain({"greeting": 2})
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(3000)], "segment": "seg_a"})
    open_all = Agent(space, SEGMENTS, AgentConfig(
        holdout_share=0, guardrails=Guardrails(quiet_start=0, quiet_end=0)))
    hours = open_all.decide(users, seed=1)["choice_timing"].to_numpy() % 24
    assert ((hours < 8) | (hours >= 22)).any()


def test_an_atom_id_is_one_atom_a_new_one_in_another_slot_is_refused():
    """add_atoms with an id the greeting slot already offers, as an offer, made the greeting
    slot show the offer's text ("50% off offer 0"); a row without an id was a KeyError."""
    import pytest

    from workbench.agent import ActionSpace, Agent
    from workbench.agent.actions import ActionSpaceError
    agent = Agent(ActionSpace.plain({"greeting": 3, "offer": 5}), ["s"])
    taken = next(i for i, a in agent.space.atoms.items() if a["kind"] == "greeting")
    with pytest.raises(ActionSpaceError, match=f"atom {taken} is already the greeting atom"):
        agent.add_atoms([{"id": taken, "kind": "offer", "text": "50% off"}])
    with pytest.raises(ActionSpaceError, match="row 1: id missing"):
        agent.add_atoms([{"kind": "offer", "text": "50% off"}])
    grown = agent.add_atoms([{"id": 99999, "kind": "offer", "text": "50% off"}])
    assert grown.space.atoms[99999]["text"] == "50% off"
    assert grown.space.atoms[taken]["kind"] == "greeting"
