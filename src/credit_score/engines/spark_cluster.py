"""A Spark standalone cluster on loopback: one master and N workers, started with pyspark's own
`bin/spark-class` (no separate Spark download).  What the tests and `docs/scale.md` run the Spark
target on, and a way to try the cluster path on one machine before a real one:

    .venv/bin/python -m credit_score.engines.spark_cluster --workers 2      # prints the master URL
    CREDIT_SCORE_SPARK_MASTER=spark://127.0.0.1:PORT credit-score build --target spark

With CREDIT_SCORE_SPARK_MASTER set, `credit-score load` and dbt's session (profiles.yml) run their
Spark SQL on the cluster's executors; the driver (and its Derby metastore) stays in the calling
process, and the tables stay under CREDIT_SCORE_SPARK_WAREHOUSE, a path every worker must see (here
the same disk; on a real cluster a shared filesystem or object store).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def spark_home() -> Path:
    """pyspark's folder: it ships bin/spark-class and the jars a master and workers need."""
    import pyspark

    return Path(pyspark.__file__).parent


def java() -> str:
    """The JVM Spark's own launcher would run: $JAVA_HOME/bin/java, else java on the PATH."""
    return str(Path(os.environ["JAVA_HOME"]) / "bin" / "java") if os.environ.get("JAVA_HOME") else "java"


def free_port() -> int:
    """A loopback port nobody listens on (once this returns)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    master_url: str
    web_ui: str
    logs: Path  # master.log, worker-<n>.log, and each worker's work/ (executors' stdout/stderr)
    workers: int

    def executors_launched(self) -> list[int]:
        """Executors each worker has launched so far (from its log): proof that work ran on it."""
        return [
            (self.logs / f"worker-{n}.log").read_text(errors="replace").count("Asked to launch executor")
            for n in range(1, self.workers + 1)
        ]

    def tasks_finished(self, worker: int) -> int:
        """Tasks the executors of a worker (numbered from 1) have finished, from their logs."""
        logs = (self.logs / f"work-{worker}").glob("*/*/stderr")
        return sum(log.read_text(errors="replace").count("Finished task") for log in logs)


def _wait_for(log: Path, text: str, count: int, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count(text) >= count:
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"the Spark standalone cluster did not start ({text!r} x{count} not in {log}):\n{tail}")


@contextlib.contextmanager
def standalone_cluster(root: Path, *, workers: int = 2, cores: int = 1, memory: str = "3g") -> Iterator[Cluster]:
    """Start a master and `workers` workers (each `cores` cores and `memory` for its executors) on
    loopback, logs and work folders under root; stop them all on exit."""
    root.mkdir(parents=True, exist_ok=True)
    spark_class = str(spark_home() / "bin" / "spark-class")
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": LOOPBACK}
    port, ui = free_port(), free_port()
    started: list[subprocess.Popen] = []

    def launch(log: Path, *args: str) -> subprocess.Popen:
        with log.open("wb") as out:
            process = subprocess.Popen(
                [spark_class, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        started.append(process)
        return process

    try:
        master_log = root / "master.log"
        master = launch(
            master_log, "org.apache.spark.deploy.master.Master",
            "--host", LOOPBACK, "--port", str(port), "--webui-port", str(ui),
        )  # fmt: skip
        _wait_for(master_log, "I have been elected leader", 1, 90, master)
        url = f"spark://{LOOPBACK}:{port}"
        for n in range(1, workers + 1):
            launch(
                root / f"worker-{n}.log", "org.apache.spark.deploy.worker.Worker", url,
                "--host", LOOPBACK, "--cores", str(cores), "--memory", memory,
                "--webui-port", str(free_port()), "--work-dir", str(root / f"work-{n}"),
            )  # fmt: skip
        _wait_for(master_log, "Registering worker", workers, 90, master)
        yield Cluster(url, f"http://{LOOPBACK}:{ui}", root, workers)
    finally:
        for process in reversed(started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            _wait_or_kill(process, 30)


def _wait_or_kill(process: subprocess.Popen, seconds: float) -> None:
    """Wait for a process group asked to stop (SIGTERM); kill it after `seconds`."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class ConnectServer:
    url: str  # sc://127.0.0.1:PORT: CREDIT_SCORE_SPARK_REMOTE
    log: Path
    process: subprocess.Popen  # spark-submit and spark-class exec the JVM: the driver itself

    def stop(self) -> None:
        """Stop the server (and let go of the warehouse's metastore); again: nothing."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        _wait_or_kill(self.process, 60)


@contextlib.contextmanager
def connect_server(root: Path, warehouse: Path, *, master: str = "local[*]") -> Iterator[ConnectServer]:
    """A Spark Connect server on loopback for the warehouse: one long-running Spark application (its
    driver here, its executors on `master`) whose sessions are the loads' and dbt's, with the same
    settings as the profile's `spark` target; it alone opens the warehouse's Derby metastore (or it shares
    the metastore database of CREDIT_SCORE_SPARK_METASTORE_URL with other applications).  Log
    under root; stopped on exit (or before, by its stop())."""
    from credit_score.engines.spark import prepare_metastore, session_settings

    prepare_metastore()  # a metastore database of its own (CREDIT_SCORE_SPARK_METASTORE_URL): its tables
    root.mkdir(parents=True, exist_ok=True)
    warehouse.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), root / "connect-server.log"
    settings = {
        **session_settings(warehouse),
        "spark.master": master,
        "spark.sql.catalogImplementation": "hive",
        "spark.connect.grpc.binding.address": LOOPBACK,
        "spark.connect.grpc.binding.port": str(port),
    }
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", CONNECT_SERVER, "--name", "credit-score"]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": LOOPBACK}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "spark-internal"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = ConnectServer(f"sc://{LOOPBACK}:{port}", log, process)
    try:
        _wait_for(log, "Spark Connect server started at", 1, 120, process)
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def hive_metastore_service(root: Path) -> Iterator[str]:
    """A Hive metastore service (Thrift) on loopback over the metastore database that
    CREDIT_SCORE_SPARK_METASTORE_URL names (jdbc:postgresql://...), run from the Hive 2.3 jars pyspark
    ships: what an operator's Hive metastore is to the project.  Yields its URL, thrift://127.0.0.1:PORT
    (CREDIT_SCORE_SPARK_METASTORE_URL for the applications that go through it); stopped on exit."""
    from credit_score.engines.spark import answers, metastore_settings, prepare_metastore
    from credit_score.settings import spark_metastore_jar, spark_metastore_url

    database = spark_metastore_url()
    if not database or not database.startswith("jdbc:"):
        raise SystemExit("a Hive metastore service needs CREDIT_SCORE_SPARK_METASTORE_URL=jdbc:postgresql://...")
    prepare_metastore()
    root.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), root / "hive-metastore.log"
    # the database and its client settings, as Spark's own sessions get them (without spark.hadoop.)
    settings = {
        "hive.async.log.enabled": "false",  # its asynchronous log needs a jar pyspark does not ship
        **{
            key.removeprefix("spark.hadoop."): value
            for key, value in metastore_settings(root).items()
            if key.startswith("spark.hadoop.") and key != "spark.hadoop.hive.metastore.uris"
        },
    }
    command = [java(), "-Xmx512m", "-cp", f"{spark_home() / 'jars'}/*:{spark_metastore_jar()}"]
    command += ["org.apache.hadoop.hive.metastore.HiveMetaStore", "-p", str(port)]
    for key, value in settings.items():
        command += ["--hiveconf", f"{key}={value}"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not answers(f"thrift://{LOOPBACK}:{port}", 1):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the Hive metastore service did not start (see {log}):\n{tail}")
            time.sleep(0.3)
        yield f"thrift://{LOOPBACK}:{port}"
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            _wait_or_kill(process, 30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m credit_score.engines.spark_cluster", description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cores", type=int, default=1, help="cores per worker")
    p.add_argument("--memory", default="3g", help="executor memory per worker")
    p.add_argument("--logs", help="folder for the logs (default: a new temporary folder)")
    p.add_argument(
        "--connect",
        metavar="WAREHOUSE",
        help="also start a Spark Connect server on the cluster for this warehouse folder (its tables and metastore)",
    )
    p.add_argument(
        "--hive-metastore",
        action="store_true",
        help="also start a Hive metastore service over the PostgreSQL metastore database that "
        "CREDIT_SCORE_SPARK_METASTORE_URL names (jdbc:postgresql://...), and print its thrift:// URL",
    )
    args = p.parse_args(argv)
    root = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="spark-cluster-"))
    signal.signal(signal.SIGTERM, _interrupted)  # a service manager's or `timeout`'s stop: clean up as Ctrl-C does
    with contextlib.ExitStack() as stack, contextlib.suppress(KeyboardInterrupt):
        if args.hive_metastore:
            service = stack.enter_context(hive_metastore_service(root))
            print(f"Hive metastore service: {service}, over {os.environ['CREDIT_SCORE_SPARK_METASTORE_URL']}")
            print(f"  export CREDIT_SCORE_SPARK_METASTORE_URL={service}    # applications then go through it")
        cluster = stack.enter_context(
            standalone_cluster(root, workers=args.workers, cores=args.cores, memory=args.memory)
        )
        print(f"Spark standalone cluster: {cluster.master_url} ({args.workers} workers; web UI {cluster.web_ui})")
        if args.connect:
            warehouse = Path(args.connect).resolve()
            server = stack.enter_context(connect_server(root, warehouse, master=cluster.master_url))
            print(f"Spark Connect server: {server.url}, its tables and metastore under {warehouse}")
            print(f"  export CREDIT_SCORE_SPARK_WAREHOUSE={warehouse} CREDIT_SCORE_SPARK_REMOTE={server.url}")
            print("  # then load / build --target spark: sessions of that one application")
        else:
            print(f"  export CREDIT_SCORE_SPARK_MASTER={cluster.master_url}    # then load / build --target spark")
        print(f"  logs: {root}.  Ctrl-C (or SIGTERM) stops it.", flush=True)
        signal.pause()
    return 0


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
