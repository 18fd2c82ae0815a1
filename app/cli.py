"""``ved``: the one command-line entry point. The GUI and the CLI call the same engine code.

Heavy imports (torch, Qt, moderngl) happen inside the sub-commands, so ``ved --help`` and
start-up stay fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from engine.machine import DEVICE_CHOICES, PATH_CHOICES
from engine.runtime.quality import QUALITY_MODES

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = ROOT / "scenarios" / "operating_room_bleeding.toml"
#: Ticks played by ``ved`` with no arguments on a machine without a display (10 s at 20 Hz).
DEFAULT_HEADLESS_TICKS = 200


def has_display() -> bool:
    """True where a Qt window can be shown."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal")):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _scenario(path: str | Path):
    from engine.scenario import load_scenario

    return load_scenario(path)


def cmd_run(args) -> int:
    scenario = _scenario(args.scenario)
    if args.headless or not has_display():
        from engine.runtime.headless import run_headless

        if not args.headless:
            print("ved: no display found; running headless", file=sys.stderr)
        result = run_headless(scenario, frames=args.frames, actions_file=args.actions, record_dir=args.record,
                              model=args.model, seed=args.seed, quality=args.quality, device=args.device,
                              path=args.path)
        print(f"played {result['frames']} ticks: {result['fps']} frames/s (median {result['median_ms']} ms, p95 "
              f"{result['p95_ms']} ms) on {result['inference_path']}, quality {result['quality']}")
        print(f"recording written to {result['recording']} (video: {result['video']}, "
              f"contact sheet: {result['contact_sheet']})")
        if result.get("seat_recordings"):
            print(f"the other trainees' views: {', '.join(result['seat_recordings'])}")
        print(json.dumps(result))
        return 0
    from app.main import run_app

    return run_app(scenario, model=args.model, record_dir=args.record, seed=args.seed, xr=args.xr,
                   device=args.device, path=args.path)


def cmd_default(args) -> int:
    if has_display():
        from app.designer import run_designer

        return run_designer(DEFAULT_SCENARIO)
    ns = argparse.Namespace(scenario=str(DEFAULT_SCENARIO), headless=False, frames=DEFAULT_HEADLESS_TICKS,
                            actions=None, record=None, model=None, seed=0, quality="auto", device="auto",
                            path="auto")
    return cmd_run(ns)


def _need_display(command: str) -> None:
    if not has_display():
        raise SystemExit(f"ved: error: `ved {command}` opens a window and this machine has no display; "
                         "use `ved run SCENARIO --headless` or `ved export RECORDING`")


def cmd_design(args) -> int:
    _need_display("design")
    from app.designer import run_designer

    return run_designer(args.scenario or DEFAULT_SCENARIO)


def cmd_debrief(args) -> int:
    from engine.recording import read_recording

    read_recording(args.recording)  # a clear error before any window opens
    _need_display("debrief")
    from app.debrief.window import run_debrief

    return run_debrief(args.recording)


def cmd_export(args) -> int:
    from engine.recording.debrief import export_events_csv, export_video, session_summary
    from engine.recording import read_recording

    recording = read_recording(args.recording)
    if not (args.mp4 or args.csv or args.summary or args.strip):
        raise SystemExit("ved: error: say what to export: --mp4 FILE, --csv FILE, --summary and/or "
                         "--strip FILE --compare OTHER")
    if args.strip:
        from engine.recording.debrief import comparison_strip

        if not args.compare:
            raise SystemExit("ved: error: --strip needs --compare OTHER_RECORDING (e.g. the reference world's "
                             "replay of this one's actions)")
        print(f"comparison written to {comparison_strip(recording, read_recording(args.compare), args.strip)}")
    hz = recording.tick_hz
    start = None if args.start is None else round(args.start * hz)
    end = None if args.end is None else round(args.end * hz)
    if args.mp4:
        from tqdm import tqdm

        with tqdm(total=1000, unit="‰", desc="video", leave=False) as bar:
            def progress(fraction=None, text=None):
                if fraction is not None:
                    bar.n = round(fraction * 1000)
                    bar.refresh()

            print(f"video written to {export_video(recording, args.mp4, start_tick=start, end_tick=end, progress=progress)}")
    if args.csv:
        print(f"event log written to {export_events_csv(recording, args.csv)}")
    if args.summary:
        print(json.dumps(session_summary(recording), default=str))
    return 0


def cmd_data(args) -> int:
    from engine.data.generate import generate_dataset

    stats = generate_dataset(args.out, episodes=args.episodes, seed=args.seed, length=args.length,
                             resolution=args.resolution, held_out=args.held_out)
    print(f"wrote {stats['episodes']} episodes ({stats['frames']} frames) to {stats['out']} at "
          f"{stats['frames_per_s']} frames/s; {stats['revisit_share']:.0%} of episodes revisit an earlier pose")
    print(json.dumps(stats))
    return 0


def cmd_train(args) -> int:
    from dataclasses import replace

    from engine.train.distributed import setup, teardown
    from engine.train.pipeline import TrainConfig, apply_overrides, reuse_run, run_training

    saved = Path(args.out) / "train_config.json"
    if args.resume and saved.exists():
        # Continue the run as it was configured; --set changes apply on top.
        config = TrainConfig.from_dict(json.loads(saved.read_text()))
    else:
        config = TrainConfig.tiny() if args.tiny else TrainConfig.for_budget(args.budget)
    if args.episodes is not None:
        config = replace(config, episodes=args.episodes)
    config = apply_overrides(config, args.set or [])
    job = setup()  # a single process unless launched by torchrun
    try:
        if args.reuse and job.main:  # rank 0 alone prepares the folder
            reuse_run(args.reuse, args.out)
        model_dir = run_training(args.out, config, seed=args.seed, resume=args.resume or bool(args.reuse),
                                 overwrite_default=args.overwrite_default)
        if not job.main:
            return 0
    finally:
        teardown()
    card = json.loads((model_dir / "model_card.json").read_text())
    print(f"model written to {model_dir}")
    print(json.dumps({"model": str(model_dir), "metrics": card["metrics"],
                      "total_s": card["training"]["timings_s"]["total_s"]}))
    return 0


def cmd_bench(args) -> int:
    if args.gui:
        if not has_display():
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from app.bench_gui import run_gui_bench

        r = run_gui_bench(seconds=args.seconds, model=args.model, runs=args.runs)
        st, se = r["startup"], r["session"]
        print(f"start-up to a usable designer window: median {st['median_s']} s, worst {st['max_s']} s over "
              f"{st['runs']} runs (heavy modules loaded: {', '.join(st['heavy_modules_loaded']) or 'none'})")
        print(f"while a session plays ({se['model']}, {se['seconds']} s, {se['ticks_per_s']} ticks/s, "
              f"{se['frames_per_s']} frames/s, {se['missed_ticks']} ticks without a frame): event-loop gap max {se['gap_max_ms']} ms, p99 {se['gap_p99_ms']} ms, "
              f"{se['gaps_over_100ms']} over 100 ms; first frame {se['first_frame_s']} s; "
              f"closing the session {se['close_ms']} ms")
        print(json.dumps(r))
        return 0
    if args.debrief:
        from engine.recording.bench import run_debrief_bench

        r = run_debrief_bench(args.minutes)
        print(f"{r['minutes']} min session: recorded in {r['record']['seconds']} s (peak +{r['record']['peak_above_start_mb']} "
              f"MB), opened for the debrief in {r['open']['seconds']} s (+{r['open']['peak_above_start_mb']} MB), "
              f"seek median {r['seek']['median_ms']} ms, a minute played +{r['play_a_minute']['peak_above_start_mb']} MB, "
              f"last minute exported in {r['export_last_minute']['seconds']} s "
              f"(+{r['export_last_minute']['peak_above_start_mb']} MB)")
        print(json.dumps(r))
        return 0
    if args.voice:
        from app.audio.voice_bench import run_voice_bench

        r = run_voice_bench(args.scenario, mode=args.voice, net=args.net, seconds=args.seconds, model=args.model,
                            seed=args.seed)
        where = "over loopback network" if args.net else "on one machine, in process"
        print(f"game master's microphone to the trainee's ears ({r['mode']} voice, {where}, {r['model']}): median "
              f"{r['latency_median_ms']} ms, p95 {r['latency_p95_ms']} ms, max {r['latency_max_ms']} ms over "
              f"{r['clicks_heard']}/{r['clicks']} clicks; the world's sound: {r['world_sound_underruns']} underruns "
              f"in {r['seconds']} s ({r['missed_ticks']} missed ticks)")
        print(json.dumps(r))
        return 0
    if args.net:
        from engine.net.bench import run_net_bench

        r = run_net_bench(args.scenario, trainees=args.trainees, game_masters=args.game_masters,
                          observers=args.observers, seconds=args.seconds, model=args.model, seed=args.seed)
        lat = ", ".join(f"{k} {v} ms" for k, v in r["latency_p95_ms"].items()) or "no trainee"
        print(f"served {r['trainees']} trainee(s), {r['game_masters']} game master(s), {r['observers']} observer(s) "
              f"for {r['seconds']} s: {r['ticks_per_s']} ticks/s of world time, {r['frames_per_s']} frames/s, "
              f"{r['missed_ticks']} ticks without a frame "
              f"({100 * r['missed_share']:.1f} %), input-to-frame p95 {lat}, server peak RSS {r['peak_rss_mb']} MB"
              + (f"; clients that failed: {r['client_errors']}" if r["client_errors"] else ""))
        print(json.dumps(r))
        return 0
    from engine.bench import run_bench

    r = run_bench(_scenario(args.scenario), frames=args.frames, model=args.model, seed=args.seed,
                  trainees=args.trainees, quality=args.quality or "high", device=args.device, path=args.path)
    ref = r["reference_world"]
    seats = f", {r['trainees']} trainees per tick" if r["trainees"] > 1 else ""
    m = r["machine"]
    print(f"machine: {m['cpu']} ({', '.join(m['flags']) or 'no AVX2'}), {m['cores']} cores")
    print(f"world model ({r['model']} on {r['inference_path']}, quality {r['quality']}, {r['sampling_steps']} "
          f"sampling steps, {r['torch_threads']} threads{seats}): "
          f"median {r['median_ms']} ms, p95 {r['p95_ms']} ms, {r['fps']} frames/s")
    print(f"reference world:   median {ref['median_ms']} ms, p95 {ref['p95_ms']} ms, {ref['fps']} frames/s")
    print(json.dumps(r))
    return 0


def cmd_eval(args) -> int:
    from datetime import datetime

    from engine.eval.suite import EvalConfig, parse_sampling, run_eval, write_card_metrics
    from engine.model.io import DEFAULT_MODEL_DIR

    config = EvalConfig.quick() if args.quick else EvalConfig()
    if args.episodes is not None:
        config.episodes = args.episodes
    if args.long_ticks is not None:
        config.long_ticks = args.long_ticks
        config.still_ticks = args.long_ticks
    model_dir = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    out = Path(args.out) if args.out else ROOT / "runs" / "eval" / (
        datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + model_dir.resolve().name)
    say = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    sampling = parse_sampling(args.sampling or [])
    only = [k.strip() for k in args.only.split(",") if k.strip()] if args.only else None
    results = run_eval(model_dir, config=config, seed=args.seed, out=out, log=say, sampling=sampling, only=only,
                       device=args.device)
    if args.write_card:
        write_card_metrics(model_dir, results)
        say(f"eval figures written into {model_dir / 'model_card.json'}")
    for row in results["figures_to_reach"]:
        mark = {True: "PASS", False: "FAIL"}.get(row["ok"], "n/a ")
        say(f"  {mark}  {row['what']}: {row['measured']} (target {row['target']})")
    say(f"results: {out / 'results.json'}\nreport:  {results['report']}")
    if args.json:
        print(json.dumps(results))
    return 0


def cmd_serve(args) -> int:
    from engine.net.run import serve

    result = serve(_scenario(args.scenario), host=args.host, port=args.port, model=args.model, record_dir=args.record,
                   seed=args.seed, seconds=args.seconds, log=lambda m: print(f"ved: {m}", file=sys.stderr),
                   quality=args.quality, device=args.device, path=args.path)
    print(f"ved: session over; recording in {result['recording']}", file=sys.stderr)
    print(json.dumps(result))
    return 0


def cmd_xr_check(args) -> int:
    from app.xr.check import run_xr_check
    from app.xr.runtime import XrUnavailable

    try:
        figures = run_xr_check(args.scenario, seconds=args.seconds, model=args.model, seed=args.seed)
    except XrUnavailable as exc:
        print(f"ved: {exc}", file=sys.stderr)
        return 2
    print(f"headset: {figures['system']} on {figures['runtime']}: {figures['frames_submitted']} frames submitted at "
          f"{figures['display_hz']} Hz ({figures['frames_dropped']} dropped), {figures['model_frames']} model frames, "
          f"head-to-view yaw correlation {figures['yaw_follow']}, motion-to-photon p95 "
          f"{figures['motion_to_photon_p95_ms']} ms", file=sys.stderr)
    print(json.dumps(figures))
    return 0


def cmd_voice(args) -> int:
    import soundfile

    from engine.audio.voice import UnknownVoiceError, f0_median, preset, transform

    try:
        voice = preset(args.voice)
    except UnknownVoiceError as exc:
        raise SystemExit(f"ved: error: {exc}") from None
    try:
        audio, rate = soundfile.read(args.input, dtype="float32", always_2d=False)
    except (RuntimeError, OSError) as exc:  # libsndfile's errors: missing or unreadable file
        raise SystemExit(f"ved: error: {args.input}: cannot read it as sound ({exc}); use a WAV or FLAC file") from None
    out = transform(audio, rate, voice)
    soundfile.write(args.output, out, rate)
    f_in, f_out = f0_median(audio, rate), f0_median(out, rate)
    ratio = round(f_out / f_in, 3) if f_in and f_out else None
    print(f"{args.output}: {voice.name} (pitch x{voice.pitch}, formants x{voice.formant}); measured F0 "
          f"{f_in and round(f_in, 1)} Hz -> {f_out and round(f_out, 1)} Hz", file=sys.stderr)
    print(json.dumps({"voice": voice.name, "pitch": voice.pitch, "formant": voice.formant, "f0_in_hz": f_in,
                      "f0_out_hz": f_out, "f0_ratio": ratio, "seconds": round(len(audio) / rate, 2),
                      "out": str(args.output)}))
    return 0


def cmd_join(args) -> int:
    if not args.headless:
        if not has_display():
            raise SystemExit("ved: error: no display to open a window on; use --headless --frames N for a "
                             "scripted client")
        from app.remote import run_join_app

        return run_join_app(args.url, args.code, xr=args.xr)
    from engine.net.run import join_headless

    result = join_headless(args.url, args.code, frames=args.frames, actions_file=args.actions, record_dir=args.record)
    print(json.dumps(result))
    return 0


def _add_placement(parser, *, path: bool = True) -> None:
    """``--device`` (and ``--path``): where the world model runs and on which inference path."""
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="where the world model runs: auto "
                        "(a CUDA GPU when torch sees one, else the CPU; default), cpu or cuda")
    if path:
        parser.add_argument("--path", choices=PATH_CHOICES, default="auto", help="which runtime runs the world "
                            "model's networks: auto (measured on this machine once, then cached; default), "
                            "torch-fp32 (the reference), openvino-fp32, openvino-bf16 (native bf16 only)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ved", description="Virtual Experience Designer. With no command: open the "
                                "app on the default scenario, or without a display play it headless and record it.")
    sub = p.add_subparsers(dest="command")

    r = sub.add_parser("run", help="play a scenario (window, or --headless with a scripted trainee)")
    r.add_argument("scenario", help="scenario TOML file")
    r.add_argument("--headless", action="store_true", help="no window: scripted trainee, unpaced, recorded")
    r.add_argument("--frames", type=int, default=DEFAULT_HEADLESS_TICKS, help="ticks to play headless (default 200)")
    r.add_argument("--actions", help="JSONL actions file to replay (schema: engine/actions.py)")
    r.add_argument("--record", help="recording folder (default: recordings/<time>-<scenario>)")
    r.add_argument("--model", help="model folder (default: the shipped model) or 'reference'")
    r.add_argument("--seed", type=int, default=0, help="sampling seed")
    r.add_argument("--quality", choices=QUALITY_MODES, default="auto", help="the world model's quality rung: auto "
                   "(steps down when frames are late, up when there is room; default) or a fixed one")
    _add_placement(r)
    r.add_argument("--xr", action="store_true", help="put the trainee in the OpenXR headset (the desktop window "
                   "stays as its mirror; without a runtime, the desktop window instead)")
    r.set_defaults(func=cmd_run)

    de = sub.add_parser("design", help="the scenario designer (the app's main window)")
    de.add_argument("scenario", nargs="?", help="scenario TOML file to open (default: the default scenario)")
    de.set_defaults(func=cmd_design)

    db = sub.add_parser("debrief", help="play a recording with its timeline of events, cues and markers")
    db.add_argument("recording", help="recording folder (recordings/<time>-<scenario>)")
    db.set_defaults(func=cmd_debrief)

    ex = sub.add_parser("export", help="export a recording: video (whole or a range), event log CSV, summary")
    ex.add_argument("recording", help="recording folder")
    ex.add_argument("--mp4", metavar="FILE", help="write the video (H.264 MP4)")
    ex.add_argument("--from", dest="start", type=float, metavar="SECONDS", help="video range start (session time)")
    ex.add_argument("--to", dest="end", type=float, metavar="SECONDS", help="video range end, inclusive")
    ex.add_argument("--csv", metavar="FILE", help="write the event log as CSV")
    ex.add_argument("--summary", action="store_true", help="print the session summary as JSON")
    ex.add_argument("--strip", metavar="FILE", help="write a PNG of evenly spaced frames of this recording above "
                    "the same ticks of --compare's")
    ex.add_argument("--compare", metavar="RECORDING", help="the recording to show under this one in --strip")
    ex.set_defaults(func=cmd_export)

    d = sub.add_parser("data", help="datasets from the reference world")
    dsub = d.add_subparsers(dest="data_command", required=True)
    g = dsub.add_parser("generate", help="write episodes (ved-dataset/1) to --out")
    g.add_argument("--out", required=True)
    g.add_argument("--episodes", type=int, default=100)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--length", type=int, default=120, help="ticks per episode")
    g.add_argument("--resolution", type=int, default=128, help="frame size in pixels (square)")
    g.add_argument("--held-out", action="store_true", help="use evaluation scene seeds (never trained on)")
    g.set_defaults(func=cmd_data)

    t = sub.add_parser("train", help="generate data and train the world model from scratch")
    t.add_argument("--out", required=True, help="run folder (data, checkpoints, model/)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--episodes", type=int, help="training episodes (default: the shipped model's budget)")
    t.add_argument("--resume", action="store_true", help="continue an interrupted run in --out (with the "
                   "configuration it was started with)")
    t.add_argument("--budget", choices=["full", "quick"], default="full",
                   help="full: the shipped model's recipe (hours; run it niced and continue with --resume); "
                        "quick: a smaller recipe that finishes within an hour on 2 CPU cores")
    t.add_argument("--tiny", action="store_true", help="seconds-long smoke configuration")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a training setting, e.g. dyn_steps=600, dynamics.memory=0, "
                        "sampling.ctx_noise=0 (repeatable; see engine/train/pipeline.py TrainConfig)")
    t.add_argument("--reuse", metavar="RUN_DIR",
                   help="start from another run's data, autoencoder and latent cache (ablations share them)")
    t.add_argument("--overwrite-default", action="store_true",
                   help="allow --out to be the shipped model folder assets/models/default")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="measure a model against the reference world (baselines in the same run)")
    e.add_argument("--model", help="model folder (default: the shipped model)")
    e.add_argument("--episodes", type=int, help="held-out episodes for the rollout figures (default 12)")
    e.add_argument("--sampling", action="append", metavar="KEY=VALUE",
                   help="override a sampling setting of the model card, e.g. cfg_action=1.5, steps=1")
    e.add_argument("--long-ticks", type=int, help="ticks of the long-rollout stability probe and of the still "
                   "trainee's rollout with events (default 6000; ablation rows use fewer)")
    e.add_argument("--only", metavar="SECTION[,SECTION]", help="run only these parts (fidelity, action_splits, "
                   "still_long, revisit, events, prompt, stability, speed), e.g. for an ablation row")
    e.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
    e.add_argument("--out", help="folder for results.json and report.html (default runs/eval/<time>-<model>)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--quick", action="store_true", help="seconds-long smoke evaluation (not a measurement)")
    e.add_argument("--write-card", action="store_true", help="store the figures in the model's model_card.json")
    _add_placement(e, path=False)
    e.set_defaults(func=cmd_eval)

    sv = sub.add_parser("serve", help="run a session for other computers to join (headless, recorded); the first "
                        "line printed is JSON with the URL and a join code per seat")
    sv.add_argument("scenario", help="scenario TOML file")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer "
                    "only; 0.0.0.0 for the LAN)")
    sv.add_argument("--port", type=int, default=0, help="port (default 0: any free port, printed in the URL)")
    sv.add_argument("--model", help="model folder (default: the shipped model) or 'reference'")
    sv.add_argument("--record", help="recording folder (default: recordings/<time>-<scenario>)")
    sv.add_argument("--seconds", type=float, help="stop after this much session time (default: until Ctrl+C)")
    sv.add_argument("--seed", type=int, default=0)
    sv.add_argument("--quality", choices=QUALITY_MODES, default="auto", help="the world model's quality rung "
                    "(default auto)")
    _add_placement(sv)
    sv.set_defaults(func=cmd_serve)

    jn = sub.add_parser("join", help="join a served session with a code: the trainee window, the game-master "
                        "console or the observer view, as the code says (--headless: a scripted client)")
    jn.add_argument("url", help="the session URL `ved serve` printed (wss://HOST:PORT/?fp=...)")
    jn.add_argument("--code", required=True, help="the join code of your seat")
    jn.add_argument("--headless", action="store_true", help="scripted client: take --frames frames, print figures")
    jn.add_argument("--frames", type=int, default=200)
    jn.add_argument("--actions", help="trainee: JSONL actions to send, one per frame received")
    jn.add_argument("--record", help="record what this client received into this folder")
    jn.add_argument("--xr", action="store_true", help="trainee: in the OpenXR headset (the window mirrors it)")
    jn.set_defaults(func=cmd_join)

    vo = sub.add_parser("voice", help="speak a recording in an avatar's voice (pitch and formant shift), to "
                        "audition a preset")
    vo.add_argument("--in", dest="input", required=True, help="a WAV or FLAC file")
    vo.add_argument("--voice", required=True, help="the preset: deeper, lower, higher, much_higher, same_pitch_darker")
    vo.add_argument("--out", dest="output", required=True, help="the WAV file to write")
    vo.set_defaults(func=cmd_voice)

    xc = sub.add_parser("xr-check", help="show a session in the OpenXR headset the runtime offers, headless, and "
                        "print its figures (display rate, frames, head-to-view yaw correlation, motion-to-photon)")
    xc.add_argument("--seconds", type=float, default=5.0, help="seconds in the headset (default 5)")
    xc.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    xc.add_argument("--model", help="model folder (default: the shipped model) or 'reference'")
    xc.add_argument("--seed", type=int, default=0)
    xc.set_defaults(func=cmd_xr_check)

    b = sub.add_parser("bench", help="live-loop generation speed on this machine")
    b.add_argument("--frames", type=int, default=300)
    b.add_argument("--model", help="model folder (default: the shipped model) or 'reference'")
    b.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--quality", choices=QUALITY_MODES, help="the quality rung to time (default high, the top one; "
                   "auto: as a live session chooses)")
    _add_placement(b)
    b.add_argument("--gui", action="store_true", help="the app instead: start-up to a usable window, and "
                   "event-loop stalls while a session plays")
    b.add_argument("--seconds", type=float, default=20.0, help="--gui, --net: seconds of play (default 20)")
    b.add_argument("--net", action="store_true", help="a served session with clients over loopback: ticks/s, "
                   "missed ticks, input-to-frame latency, bytes/s per client, server peak memory")
    b.add_argument("--trainees", type=int, default=1, help="trainee seats, all stepped in one batched pass per "
                   "tick (with --net: trainee clients; default 1)")
    b.add_argument("--game-masters", type=int, default=1, help="--net: game-master clients (default 1)")
    b.add_argument("--observers", type=int, default=1, help="--net: observer clients (default 1)")
    b.add_argument("--runs", type=int, default=5, help="--gui: start-up runs (default 5)")
    b.add_argument("--debrief", action="store_true", help="a long synthetic session recorded, opened for the "
                   "debrief, sought, played and its last minute exported: time and peak memory of each step")
    b.add_argument("--minutes", type=float, default=60.0, help="--debrief: the session's length (default 60)")
    b.add_argument("--voice", choices=("own", "avatar"), help="the game master's voice instead: microphone-to-ear "
                   "latency of clicks spoken in this mode, and underruns of the trainee's sound, with stand-in "
                   "devices driving the real path (with --net: over loopback); --seconds sets the length")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="ved: %(levelname)s: %(message)s")
    args = build_parser().parse_args(argv)
    func = getattr(args, "func", cmd_default)
    from engine.errors import user_errors

    try:
        return func(args)
    except user_errors() as exc:
        print(f"ved: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
