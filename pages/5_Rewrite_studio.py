"""Rewrite studio: find a segment's weak messages, see why they fail, rewrite, judge blind, accept."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from ui import previews
from workbench.studio import jobs, judging
from workbench.studio import pipeline as rw
from workbench.library.assembly import Message
from workbench.library.service import csv_text
from workbench.studio.copyrules import ERROR_TYPES
from workbench.studio.performance import Thresholds

PREVIEW_CHANNELS = ("push", "email", "sms")
POLL_SECONDS = 1.0


def engines_banner(studio: rw.Studio) -> None:
    labels = {a: studio.engine(a) for a in ("diagnosis", "rewrite", "evaluation")}
    text = " · ".join(f"**{a}**: {ui.plain(label)}" for a, label in labels.items())
    if all(label == rw.RULES_LABEL for label in labels.values()):
        st.info("Offline rules engine (deterministic, no network) runs the diagnosis, rewrite "
                "and evaluation agents; retrieval of strong examples always runs on local "
                "embeddings. Configure a model on the LLM settings page to use one.",
                icon=":material/build:")
    else:
        st.caption("Agents: " + text)


def preview(store, fields: dict, channel: str, key: str) -> None:
    ch = st.radio("Preview as", PREVIEW_CHANNELS, horizontal=True, key=key,
                  index=PREVIEW_CHANNELS.index(channel) if channel in PREVIEW_CHANNELS else 0)
    msg = Message(title=fields.get("title", ""), preheader=fields.get("preheader", ""),
                  body=fields.get("body", ""), image="")
    st.html(previews.render(msg, store.channel(ch)))


def start_rewrites(studio: rw.Studio, segment: str, ids: list[int]) -> None:
    """Hand the rewrites to a background job; the progress fragment follows it."""
    with ui.reported():
        jobs.start(studio.store.path, segment, ids, ui.actor(), keys=ui.llm_keys(),
                   by_merchant=studio.by_merchant, thresholds=studio.thresholds)
        st.rerun()


def job_progress(store_path: str, segment: str, polling: bool) -> None:
    """The segment's rewrite job: a progress bar while it runs (this fragment then reruns every
    ``POLL_SECONDS``); when it is over, its outcome once, and the whole page reruns to list the
    new rewrites."""
    job = jobs.job(store_path, segment)
    if job is None:
        return
    if job.running:
        st.progress(job.share, text=f"Rewriting {job.done} of {job.total}: {job.step}")
        return
    jobs.forget(segment)
    if job.status == "failed":
        st.session_state["studio_error"] = f"The rewrite stopped: {ui.plain(job.message)}"
    else:
        st.session_state["studio_flash"] = f"{job.rewrites} rewrite(s) ready in the Rewrites tab."
        if job.message:  # messages whose offer no wording can fit to the segment
            st.session_state["studio_warning"] = ui.plain(job.message)
    if polling:
        st.rerun(scope="app")


def weak_tab(store, studio: rw.Studio, segment: str, busy: bool = False) -> None:
    weak = studio.weak_messages(segment)
    if weak.empty:
        st.info("No weak messages in this segment at this threshold.")
        return
    # A message whose rewrite still waits for a decision is not rewritten again by "Rewrite
    # all": the offline engine wrote the same draft again, a second card to judge and accept.
    waiting: dict[int, list[str]] = {}
    for r in rw.rewrites(store, segment, status="proposed"):
        waiting.setdefault(int(r["template_id"]), []).append(f"#{r['id']}")
    shown = weak.assign(error_type=weak["error_type"].map(ERROR_TYPES), waiting=[
        ", ".join(waiting.get(int(t), [])) for t in weak["template_id"]])
    st.dataframe(shown[["template_id", "name", "channel", "score", "percentile", "error_type",
                        "reason", "waiting"]], hide_index=True, width="stretch", column_config={
        "template_id": "Template", "name": "Name", "channel": "Channel",
        "score": st.column_config.NumberColumn("Score", format="%.3f",
                                               help="The message's reward in this segment"),
        "percentile": st.column_config.NumberColumn("Percentile", format="%.0f"),
        "error_type": "Diagnosis", "reason": "Why",
        "waiting": st.column_config.TextColumn(
            "Rewrite waiting", help="Proposed rewrites of this message not yet accepted or "
                                    "dismissed (Rewrites tab)")})
    todo = [int(t) for t in weak["template_id"] if int(t) not in waiting]
    if left_out := len(weak) - len(todo):
        st.caption(f"{left_out} of these messages {'has' if left_out == 1 else 'have'} a "
                   f"rewrite waiting in the Rewrites tab: Rewrite all leaves "
                   f"{'it' if left_out == 1 else 'them'} out (accept or dismiss the rewrite "
                   "first, or use Rewrite this message for another draft).")
    off = busy or not todo
    if st.button(f"Rewrite all {len(todo)} weak message{'' if len(todo) == 1 else 's'}"
                 + (" without a waiting rewrite" if left_out else ""),
                 key="rewrite_all", type="primary", disabled=off,
                 help="Under way: see the progress bar above." if busy else
                 "Each weak message has a rewrite waiting in the Rewrites tab." if off else None):
        start_rewrites(studio, segment, todo)
    for row in weak.to_dict("records"):
        msg = store.template(row["template_id"])
        with st.expander(f"#{msg['id']} {ui.plain(msg['name'])}: "
                         f"{ERROR_TYPES[row['error_type']]}"):
            c1, c2 = st.columns(2)
            with c1:
                preview(store, msg, msg["channel"], f"pv_orig_{msg['id']}")
            with c2:
                d = studio.diagnose(msg) if studio.engine("diagnosis") == rw.RULES_LABEL \
                    else None
                st.markdown(f"**Why it is weak:** {ui.plain(row['reason'])}")
                st.caption(f"Voucher: {ui.plain(msg['voucher'] or '—')} · category: "
                           f"{ui.plain(msg['product_category'] or '—')} · engagement "
                           f"percentile {row['percentile']:.0f}")
                for reason in (d or {}).get("insights", []):
                    st.markdown(f"- {ui.plain(reason)}")
                if mine := waiting.get(msg["id"]):
                    st.caption(f"Rewrite {', '.join(mine)} of this message waits in the "
                               "Rewrites tab.")
                if st.button("Rewrite this message", key=f"rewrite_{msg['id']}",
                             disabled=busy):
                    start_rewrites(studio, segment, [msg["id"]])


def rewrite_card(store, r: dict) -> None:
    ev = r["evaluation"]
    orig = store.template(r["template_id"])
    st.markdown(f"**#{r['id']}** rewrite of *{ui.plain(orig['name'])}* · path `{r['path']}` · "
                f"{ERROR_TYPES.get(r['error_type'], r['error_type'])} · "
                f"{ui.plain(r['engine'])} · status **{r['status']}**")
    for col, side in zip(st.columns(2), ("original", "rewrite"), strict=True):
        with col:
            st.caption(side.title())
            preview(store, r[side], orig["channel"], f"pv_{side[0]}_{r['id']}")
            s = ev[side]
            st.caption(f"Audience {s['audience_score']}/5: {ui.plain(s['audience_reason'])}  \n"
                       f"Marketing {s['marketing_score']}/5: {ui.plain(s['marketing_reason'])}")
    flip = " (the judge's pick flipped with the order: counted as a tie)" \
        if ev.get("position_flip") else ""
    st.markdown(f"Blind verdict of the model judge: **{ev['verdict']}**{flip} · chrF "
                f"{r['chrf']:.1f} · cosine {r['cosine']:.3f} · attempts {r['attempts']}")
    if r["exemplars"]:
        st.caption("Learned from: " + "; ".join(
            f"#{e['id']} {ui.plain(e['name'])}" + (f" (similarity {e['similarity']:.2f})"
                                         if e.get("similarity") is not None else "")
            for e in r["exemplars"]))
    elif r["diagnosis"].get("retrieval_skipped"):
        st.caption(f"Rule-based: {ui.plain(r['diagnosis']['retrieval_skipped'])}.")
    for note in r["diagnosis"].get("notes", []):
        st.caption(f"Note: {ui.plain(note)}")
    for rej in r["rejected"]:
        st.warning("Rejected draft: " + ui.plain(rej["draft"].get("body", "")) + " — "
                   + "; ".join(ui.plain(x) for x in rej["reasons"]))
    checked = r["diagnosis"].get("grounding") or {}
    if checked.get("claims"):
        st.caption("Claims checked: " + "; ".join(
            f"{'supported' if c['supported'] else 'NOT supported'}: {c['kind']} "
            f"'{ui.plain(c['text'])}' ({ui.plain(c['reason'])})"
            for c in checked["claims"]))
    if r["status"] == "proposed":
        b1, b2, b3 = st.columns(3)
        # A click acts on the next run (see decide), for the rewrite it was drawn on;
        # accepting writes the library, which passive management freezes.
        frozen = store.current_mode() == "passive"
        why = "The library is frozen in passive management." if frozen else None
        for col, label, key, action, off in (
                (b1, "Accept as template", "acc_t", "template", frozen),
                (b2, "Accept as atoms", "acc_a", "atoms", frozen),
                (b3, "Dismiss", "dismiss", "dismiss", False)):
            col.button(label, key=f"{key}_{r['id']}", disabled=off, help=why if off else None,
                       on_click=decision_clicked, args=(r["id"], action))


def decision_clicked(rewrite_id: int, action: str) -> None:
    """A card's button callback: keep the rewrite and decision it was clicked for, so the next
    run decides it even if the card is now drawn as decided (another tab accepted it), and
    the refusal says who decided it and when instead of the click vanishing."""
    st.session_state["studio_decision"] = (rewrite_id, action)


def decide(store, rewrite_id: int, action: str) -> None:
    """Accept (as a template or as atoms) or dismiss a rewrite; a refusal shows why."""
    with ui.reported():
        if action == "dismiss":
            rw.dismiss(store, rewrite_id, ui.actor())
            st.rerun()
        ids = rw.accept(store, rewrite_id, ui.actor(), as_=action)
        st.session_state["studio_flash"] = (f"Added template #{ids[0]} to the library."
                                            if action == "template" else
                                            f"Added {len(ids)} atom(s) to the library.")
        st.rerun()


def rewrites_tab(store, segment: str) -> None:
    if (clicked := st.session_state.pop("studio_decision", None)) is not None:
        decide(store, *clicked)
    made = rw.rewrites(store, segment)
    if not made:
        st.info("No rewrites for this segment yet: start from the weak messages tab.")
        return
    for r in reversed(made):
        with st.container(border=True):
            rewrite_card(store, r)


def judging_tab(store, segment: str, name: str) -> None:
    judge = ui.actor()
    queue = judging.blind_queue(store, judge, segment)  # others' rewrites, random order and side
    last = st.session_state.pop("studio_reveal", None)
    if last:
        st.success(last)
    if not queue:
        own = judging.waiting_for_colleagues(store, judge, segment)
        st.info(f"Nothing left for {ui.plain(judge)} to judge in this segment."
                + (f" {own} rewrite(s) you made wait for a colleague's blind judgment."
                   if own else ""))
        return
    orders = st.session_state.setdefault("studio_orders", {})
    item = next((q for q in queue if q.rewrite_id in orders), queue[0])
    todo = queue
    r = rw.rewrite_row(store, item.rewrite_id)
    position = orders.setdefault(r["id"], item.rewrite_position)
    pair = judging.blind_pair(store, r["id"], position)
    channel = store.template(r["template_id"])["channel"]
    st.markdown(f"Which message would you rather send to **{ui.plain(name)}**? "
                f"({len(todo)} left for {ui.plain(judge)})")
    c1, c2 = st.columns(2)
    for col, side in ((c1, "A"), (c2, "B")):
        with col:
            st.markdown(f"**Message {side}**")
            msg = Message(title=pair[side]["title"], preheader=pair[side]["preheader"],
                          body=pair[side]["body"], image="")
            st.html(previews.render(msg, store.channel(channel)))
    with st.form(f"judge_{r['id']}"):
        choice = st.radio("Your pick", ["A", "B", "No preference"], horizontal=True,
                          index=None, key=f"choice_{r['id']}")
        if st.form_submit_button("Submit blind judgment"):
            if choice is None:
                st.warning("Pick A, B or no preference first.")
            else:
                with ui.reported():  # not stored: the same pair waits, on the same sides
                    code = "none" if choice == "No preference" else choice
                    row = judging.record_judgment(store, r["id"], judge, position, code)
                    said = {"rewrite": "You preferred the rewrite.",
                            "original": "You preferred the original.",
                            "none": "You had no preference."}[row["preferred"]]
                    st.session_state["studio_reveal"] = (
                        f"Revealed: message {position} was the rewrite (#{r['id']}). {said} "
                        f"The model judge's blind verdict: {r['evaluation']['verdict']}.")
                    orders.pop(r["id"], None)
                    st.rerun()


#: The results tables' columns in words (the CSV download keeps the short names).
MODEL_COLUMNS = {
    "segment": "Segment", "count": "Rewrites",
    "audience_ori": "Audience fit, original (1-5)", "audience_gen": "Audience fit, rewrite",
    "audience_change_pct": "Audience fit change",
    "market_ori": "Marketing quality, original (1-5)", "market_gen": "Marketing quality, rewrite",
    "market_change_pct": "Marketing quality change", "preferred": "Preferred (blind, pairwise)",
    "preferred_rate_pct": "Preferred in", "position_flips": "Verdicts that changed with order"}
MARKETER_COLUMNS = {
    "segment": "Segment", "judgments": "Judgments", "rewrite_preferred": "Rewrite preferred",
    "original_preferred": "Original preferred", "no_preference": "No preference",
    "rewrite_rate_pct": "Rewrite preferred (%)", "ci_low_pct": "95% interval from",
    "ci_high_pct": "95% interval to", "agreement_pct": "Agree with the model judge",
    "agreement_ci_low_pct": "Agreement interval from",
    "agreement_ci_high_pct": "Agreement interval to"}
PREFERRED = {"Gen": "rewrite", "Ori": "original", "Tie": "tie"}


def results_tab(store) -> None:
    st.markdown("**Model judge** (1/3/5 scores and blind pairwise verdict in both orders)")
    model = judging.model_table(store)
    if model.empty:
        st.info("No rewrites evaluated yet.")
    else:
        shown = model.assign(preferred=model["preferred"].map(PREFERRED))
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            c: st.column_config.NumberColumn(MODEL_COLUMNS[c], format="%.2f")
            for c in model.columns if c.endswith(("_ori", "_gen"))} | {
            c: st.column_config.NumberColumn(MODEL_COLUMNS[c], format="%+.1f%%")
            for c in model.columns if c.endswith("change_pct")} | {
            "preferred_rate_pct": st.column_config.NumberColumn(
                MODEL_COLUMNS["preferred_rate_pct"], format="%.1f%%")} | {
            c: MODEL_COLUMNS[c] for c in ("segment", "count", "preferred", "position_flips")})
    st.markdown("**Marketers' blind judgments** (rewrite preferred, 95% Wilson interval, "
                "agreement with the model judge)")
    people = judging.marketer_table(store)
    if people.empty:
        st.info("No blind judgments yet: use the blind judging tab.")
    else:
        st.dataframe(people, hide_index=True, width="stretch", column_config={
            c: st.column_config.NumberColumn(MARKETER_COLUMNS[c], format="%.1f%%")
            for c in people.columns if c.endswith("_pct")} | {
            c: MARKETER_COLUMNS[c] for c in people.columns if not c.endswith("_pct")})
    st.download_button("Download results (CSV)", lambda: csv_text(pd.concat(
        [model.assign(judge="model"), people.assign(judge="marketers")])),
        "rewrite_results.csv", "text/csv", key="results_csv", on_click="ignore")


def main() -> None:
    store = ui.page("Rewrite studio", "Weak messages of a segment, diagnosed, rewritten "
                    "with their offer intact, judged blind, then accepted into the library.")
    segments = {s["id"]: s["name"] for s in store.segments()}
    c1, c2, c3 = st.columns([5, 2, 2])  # room for the toggle's label
    segment = c1.selectbox("Audience segment", list(segments), format_func=segments.get,
                           key="studio_segment")
    weak_below = c2.slider("Weak = bottom percentile", 10, 50, 25, step=5, key="studio_weak")
    by_merchant = c3.toggle("Rank within merchant", key="studio_by_merchant",
                            help="Compare each message with the same merchant's messages in "
                                 "the segment, instead of the whole segment.")
    with ui.reported("The model settings cannot be used: ", stop=True):
        studio = rw.Studio(store, keys=ui.llm_keys(), by_merchant=by_merchant,
                           thresholds=Thresholds(weak_below=weak_below))
    engines_banner(studio)
    current = jobs.job(store.path, segment)
    polling = current is not None and current.running
    st.fragment(job_progress, run_every=POLL_SECONDS if polling else None)(
        store.path, segment, polling)
    if flash := st.session_state.pop("studio_flash", None):
        st.success(flash)
    if warning := st.session_state.pop("studio_warning", None):
        st.warning(warning)
    if error := st.session_state.pop("studio_error", None):
        st.error(error)
    tabs = st.tabs(["Weak messages", "Rewrites", "Blind judging", "Results"], key="studio_tab",
                   on_change="rerun")
    with tabs[0]:
        weak_tab(store, studio, segment, busy=polling)
    with tabs[1]:
        rewrites_tab(store, segment)
    with tabs[2]:
        judging_tab(store, segment, segments[segment])
    with tabs[3]:
        results_tab(store)


main()
