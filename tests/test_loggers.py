"""Comparing runs: TensorBoard's HParams session, the CSV and MLflow loggers, logger=many."""

import csv

import pytest
from helpers import cli_overrides, events, run_script
from tensorboard.plugins.hparams import plugin_data_pb2

from lyrics_rnn.report import write_report
from lyrics_rnn.train import train

SPLIT = "data.split=[0.6,0.2,0.2]"


def hparams_plugin(run_dir) -> dict:
    """The HParams plugin records of a run, parsed with TensorBoard's own protobufs."""
    content = events(run_dir).PluginTagToContent("hparams")
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(data) for tag, data in content.items()}


def test_tensorboard_hparams_session_holds_the_settings_and_final_metrics(compose_train, tmp_path):
    metrics = train(compose_train("model=lstm", "sampler=consecutive", SPLIT))
    records = hparams_plugin(tmp_path / "run")
    params = records["_hparams_/session_start_info"].session_start_info.hparams
    assert params["model"].string_value == "lstm" and params["sampler"].string_value == "consecutive"
    assert params["num_hiddens"].number_value == 16 and params["split"].string_value == "0.6/0.2/0.2"
    assert {
        "lr",
        "batch_size",
        "num_steps",
        "gradient_clip_val",
        "seed",
        "optimizer",
        "data",
    } <= params.keys()
    tags = {info.name.tag for info in records["_hparams_/experiment"].experiment.metric_infos}
    assert tags == {
        f"final/{m}" for m in ("train_ppl", "val_ppl_best", "val_ppl", "test_ppl", "wall_s", "chars_per_s")
    }
    final = {tag: events(tmp_path / "run").Scalars(tag)[-1].value for tag in tags}
    assert final["final/test_ppl"] == pytest.approx(metrics["test/ppl"])  # filled in, not a placeholder
    assert final["final/val_ppl_best"] <= final["final/val_ppl"] and final["final/wall_s"] > 0


def test_samples_share_the_step_of_their_epoch_scalars(compose_train, tmp_path):
    train(compose_train())
    accumulator = events(tmp_path / "run")
    samples = [e.step for e in accumulator.Tensors("samples/text_summary")]
    assert samples == [e.step for e in accumulator.Scalars("train/ppl")]


def test_surprisal_view_reads_the_held_out_text_into_tensorboard(compose_train, tmp_path):
    train(compose_train("callbacks.surprisal_view.every_n_epochs=2", "callbacks.surprisal_view.num_chars=40"))
    logged = events(tmp_path / "run").Tensors("surprisal/text_summary")
    assert [e.step for e in logged] == [e.step for e in events(tmp_path / "run").Scalars("train/ppl")][1:]
    text = logged[0].tensor_proto.string_val[0].decode()
    assert "val perplexity of these 40 characters" in text
    assert text.count("%") == 50 and "| character | bits | expected |" in text  # 10 rows of 5 guesses


def test_surprisal_view_is_off_by_default(compose_train, tmp_path):
    train(compose_train())
    assert "surprisal/text_summary" not in events(tmp_path / "run").Tags()["tensors"]


def test_csv_logger_writes_every_metric_into_the_run_folder(compose_train, tmp_path):
    metrics = train(compose_train("logger=csv", SPLIT))
    rows = list(csv.DictReader((tmp_path / "run" / "csv" / "metrics.csv").read_text().splitlines()))
    assert sum(bool(r["val/ppl"]) for r in rows) == 2  # one per epoch
    assert float(next(r["final/test_ppl"] for r in rows if r["final/test_ppl"])) == pytest.approx(
        metrics["test/ppl"]
    )


def test_mlflow_logger_records_params_and_metrics_in_a_local_store(compose_train, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    metrics = train(compose_train("logger=mlflow", "model=gru", SPLIT))
    client = mlflow.tracking.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'run' / 'mlflow.db'}")
    (run,) = client.search_runs(client.get_experiment_by_name("lyrics-rnn").experiment_id)
    assert run.data.params["model"] == "gru" and run.data.params["split"] == "0.6/0.2/0.2"
    assert run.data.metrics["final/test_ppl"] == pytest.approx(metrics["test/ppl"])


def test_many_loggers_go_on_without_a_missing_one(compose_train, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("lightning.pytorch.loggers.mlflow._MLFLOW_AVAILABLE", False)
    train(compose_train("logger=many"))
    assert "logging without logger.mlflow" in caplog.text
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file() and hparams_plugin(tmp_path / "run")
    with pytest.raises(ValueError, match=r"logger.mlflow .*install it"):
        train(compose_train("logger=mlflow"))


def test_report_warns_of_an_event_file_cut_short_and_of_a_damaged_record(tiny_corpus, tmp_path, capsys):
    done = run_script(
        "train.py", *cli_overrides(tiny_corpus, tmp_path), f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    write_report(tmp_path / "run")
    assert "warning" not in capsys.readouterr().err  # a whole file
    events_file = max((tmp_path / "run").glob("events.out.tfevents.*"), key=lambda path: path.stat().st_size)
    data = events_file.read_bytes()
    events_file.write_bytes(data[: len(data) // 2])
    write_report(tmp_path / "run")
    assert f"warning: {events_file} is cut short at byte " in capsys.readouterr().err
    events_file.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    write_report(tmp_path / "run")
    assert "(a record fails its checksum): its run shows only the epochs" in capsys.readouterr().err
