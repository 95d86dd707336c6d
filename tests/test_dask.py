"""``segeval score`` on a Dask cluster: a local cluster of 2 worker processes (loopback only), shared by the module.

Each test is one promise of docs/distributed.md: the same numbers as the local thread pool, a bad file is a
failed case, a killed worker costs no case (and none twice), a case whose workers keep dying fails "worker
died", Ctrl-C cancels the tasks, and a cluster that cannot run the cases is a usage error before any task.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import segeval
from segeval.cli import app
from segeval.errors import UsageError
from segeval.io.pairing import CasePair
from segeval.pipeline import dask_run
from segeval.pipeline.chunks import Plan

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
VARYING = {"timings", "created"}
"""summary.json keys that differ between any two runs."""


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _scheduler_tasks(client) -> int:
    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


def _reports(result, folder: Path) -> dict[str, object]:
    """The report files of ``result``: the CSV files as bytes, ``summary.json`` by key (less :data:`VARYING`)."""
    result.write(folder)
    document = result.to_dict()
    return {
        "per_case.csv": (folder / "per_case.csv").read_bytes(),
        "summary.csv": (folder / "summary.csv").read_bytes(),
        **{f"summary.json {key}": value for key, value in document.items() if key not in VARYING},
    }


def _assert_same_reports(remote, local, tmp_path: Path) -> None:
    remote, local = _reports(remote, tmp_path / "remote"), _reports(local, tmp_path / "local")
    assert remote.keys() == local.keys()
    for key in local:
        assert remote[key] == local[key], key


@pytest.mark.parametrize(
    ("data", "options"),
    [
        ("png2d", {"metrics": ["hd95", "nsd"]}),
        ("nifti3d", {"metrics": ["hd95", "assd"]}),
        ("npy_probs", {}),
    ],
)
def test_a_cluster_run_writes_the_reports_of_the_local_run_byte_for_byte(client, tmp_path, data, options):
    args = (SAMPLE / data / "preds", SAMPLE / data / "gts")
    local = segeval.score(*args, **options)
    remote = segeval.score(*args, client=client, **options)
    assert len(remote.cases) > 1 and [r.case for r in remote.cases] == [r.case for r in local.cases]
    _assert_same_reports(remote, local, tmp_path)


def test_a_bad_file_among_good_ones_is_a_failed_case_as_locally(client, tmp_path):
    for side in ("preds", "gts"):
        shutil.copytree(SAMPLE / "png2d" / side, tmp_path / side)
    bad = tmp_path / "preds" / "img_001.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    local = segeval.score(tmp_path / "preds", tmp_path / "gts")
    remote = segeval.score(tmp_path / "preds", tmp_path / "gts", client=client)
    assert [(r.case, r.error) for r in remote.failed] == [(r.case, r.error) for r in local.failed]
    assert [r.case for r in remote.failed] == ["img_001"] and str(bad) in remote.failed[0].error
    assert len(remote.scored) == 3
    _assert_same_reports(remote, local, tmp_path)


def _many_cases(folder: Path, n: int, shape=(256, 256)) -> tuple[Path, Path]:
    from PIL import Image

    rng = np.random.default_rng(0)
    for side in ("preds", "gts"):
        (folder / side).mkdir(parents=True)
    for i in range(n):
        gt = np.zeros(shape, np.uint8)
        gt[40 + i % 50 : 160, 30 : 150 + i % 60] = 1
        pred = np.where(rng.random(shape) < 0.02, 1 - gt, gt).astype(np.uint8)
        Image.fromarray(gt).save(folder / "gts" / f"c{i:03d}.png")
        Image.fromarray(pred).save(folder / "preds" / f"c{i:03d}.png")
    return folder / "preds", folder / "gts"


def test_a_worker_killed_mid_run_costs_no_case_and_scores_none_twice(client, tmp_path):
    preds, gts = _many_cases(tmp_path, 24)
    options = {"metrics": ["hd95"], "labels": [0, 1]}
    local = segeval.score(preds, gts, **options)
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker(done: int, total: int) -> None:
        busy = [worker for worker, keys in client.processing().items() if keys]
        if not killed and busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    remote = segeval.score(preds, gts, client=client, progress=kill_a_busy_worker, **options)
    assert killed, "no worker was busy after the first task: nothing was killed"
    assert [r.case for r in remote.cases] == [r.case for r in local.cases]
    assert remote.failed == []
    _assert_same_reports(remote, local, tmp_path)
    client.wait_for_workers(2, timeout=60)


def test_a_case_whose_workers_keep_dying_fails_worker_died(client, monkeypatch):
    allowed = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
    client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", 0))
    monkeypatch.setattr(dask_run, "score_task", lambda pairs, plan: os._exit(1))  # sent by value: dies on the worker
    try:
        result = segeval.score(
            SAMPLE / "png2d" / "preds" / "img_000.png", SAMPLE / "png2d" / "gts" / "img_000.png", client=client
        )
    finally:
        client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", allowed))
    assert [r.case for r in result.failed] == ["img_000"] and result.failed[0].error.startswith("worker died")
    client.wait_for_workers(2, timeout=60)


def test_ctrl_c_cancels_the_tasks_and_returns_no_result(client, tmp_path):
    preds, gts = _many_cases(tmp_path, 16)

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        segeval.score(preds, gts, client=client, progress=interrupt, metrics=["hd95"])
    deadline = time.monotonic() + 10
    while _scheduler_tasks(client) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _scheduler_tasks(client) == 0


def test_a_version_that_differs_between_client_and_workers_is_named(client, monkeypatch):
    monkeypatch.setattr(segeval, "__version__", "9.9.9")  # the client only: the workers are other processes
    with pytest.raises(UsageError, match=r"runs segeval 0\.\d+\.\d+\S*, this client 9\.9\.9"):
        segeval.score(SAMPLE / "png2d" / "preds", SAMPLE / "png2d" / "gts", client=client)
    assert _scheduler_tasks(client) == 0


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the workers here have CUDA")
def test_the_device_is_resolved_on_the_workers(client):
    with pytest.raises(UsageError, match="CUDA is not available"):
        segeval.score(SAMPLE / "png2d" / "preds", SAMPLE / "png2d" / "gts", client=client, device="cuda")
    result = segeval.score(SAMPLE / "png2d" / "preds", SAMPLE / "png2d" / "gts", client=client, device="auto")
    assert result.device == "cpu" and result.to_dict()["config"]["device"] == "cpu"


def test_relative_paths_reach_the_workers_absolute(client, monkeypatch, tmp_path):
    monkeypatch.chdir(SAMPLE / "png2d")  # the workers' working folder stays where the cluster started
    local = segeval.score("preds", "gts")
    remote = segeval.score("preds", "gts", client=client)
    assert remote.failed == [] and [str(r.pred) for r in remote.cases] == [str(r.pred) for r in local.cases]
    _assert_same_reports(remote, local, tmp_path)


def test_a_file_the_workers_cannot_see_is_named_before_any_task(client):
    unseen = Path("/nonexistent/shared/gt_000.png")
    plan = Plan(config=segeval.ScoreConfig(), palette=None, distance_names=())
    with pytest.raises(UsageError, match=r"cannot see /nonexistent/shared/gt_000\.png") as raised:
        dask_run.check_cluster(client, [CasePair("c", None, unseen)], plan)
    assert "same path" in raised.value.hint


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheduler", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler at tcp://127.0.0.1:9"),
        (["--scheduler", "head:8786"], "--scheduler must be tcp://HOST:PORT"),
        (["--scheduler", "local:0"], "--scheduler must be tcp://HOST:PORT"),
        (["--scheduler-file", "no-such-scheduler.json"], "--scheduler-file no-such-scheduler.json: no such file"),
        (["--scheduler", "local:2", "--scheduler-file", "s.json"], "give either --scheduler or --scheduler-file"),
    ],
)
def test_a_scheduler_that_cannot_be_used_is_a_usage_error_naming_it(args, message, monkeypatch, tmp_path):
    monkeypatch.setattr(dask_run, "CONNECT_TIMEOUT_S", 1)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["score", str(SAMPLE / "png2d/preds"), str(SAMPLE / "png2d/gts"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stderr.startswith("error: ")
    assert not (tmp_path / "reports").exists()


def test_dask_is_imported_only_when_a_run_asks_for_a_cluster():
    code = (
        "import sys, segeval; from segeval.cli import app; from typer.testing import CliRunner; "
        f"r = CliRunner().invoke(app, ['score', {str(SAMPLE / 'png2d/preds')!r}, {str(SAMPLE / 'png2d/gts')!r}]); "
        "print(r.exit_code, 'dask' in sys.modules, 'distributed' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False", "False"], out
