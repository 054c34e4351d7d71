"""Log line templates (str.format with named variables), by language, event and fault type."""

from __future__ import annotations

# Routine request handling, per language.
REQUEST = {
    "java": ("c.l.{stem}.web.{Stem}Controller - handled {op} user={uid} took {ms}ms",
             "c.l.{stem}.service.{Stem}ServiceImpl - loaded {n} records for order {oid} in {ms}ms"),
    "go": ("handled request method={method} path={path} status=200 duration={ms}ms user_id={uid}",
           "{stem}: processed {n} items for order {oid} (took {ms}ms)"),
    "python": ("INFO:{stem}.views:{op} completed for user {uid} in {ms}ms",
               "{stem}.worker: processed order {oid} with {n} line items took {ms}ms"),
    "node": ("request completed {method} {path} 200 - {ms} ms (user {uid})",
             "[{stem}] served {n} entries for {oid} in {ms}ms"),
}

ACCESS = '{client_ip} - - [{clf_time}] "{method} {path} HTTP/1.1" {status} {bytes} "-" "{ua}" rt={secs} upstream_rt={secs}'

# A caller describing a failed call to `peer`, by reason (and datastore kind where it matters).
CALL_ERROR = {
    ("refused", "database"): (
        "org.postgresql.util.PSQLException: Connection to {peer}:{port} refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections. (SQLSTATE 08001)",
        "psycopg2.OperationalError: could not connect to server: Connection refused. Is the server running on host \"{peer}\" ({peer_ip}) and accepting TCP/IP connections on port {port}?",
        "failed to connect to `host={peer} user=app database=app`: dial error (dial tcp {peer_ip}:{port}: connect: connection refused)",
    ),
    ("refused", "cache"): (
        "redis.exceptions.ConnectionError: Error 111 connecting to {peer}:{port}. Connection refused.",
        "Unable to connect to Redis; nested exception is io.lettuce.core.RedisConnectionException: Unable to connect to {peer}/{peer_ip}:{port}",
        "dial tcp {peer_ip}:{port}: connect: connection refused",
    ),
    ("refused", "queue"): (
        "[Producer clientId=producer-1] Connection to node -1 ({peer}/{peer_ip}:{port}) could not be established. Broker may not be available.",
        "kafka: client has run out of available brokers to talk to: dial tcp {peer_ip}:{port}: connect: connection refused",
    ),
    ("refused", "service"): (
        "I/O error on POST request for \"http://{peer}:{port}{peer_path}\": Connection refused; nested exception is java.net.ConnectException: Connection refused",
        "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp {peer_ip}:{port}: connect: connection refused\"",
        "connect ECONNREFUSED {peer_ip}:{port}",
        "requests.exceptions.ConnectionError: HTTPConnectionPool(host='{peer}', port={port}): Max retries exceeded with url: {peer_path} (Caused by NewConnectionError: [Errno 111] Connection refused)",
    ),
    ("timeout", "database"): (
        "org.postgresql.util.PSQLException: ERROR: canceling statement due to statement timeout (SQLSTATE 57014)",
        "pq: canceling statement due to user request: context deadline exceeded after {ms}ms ({peer}:{port})",
    ),
    ("timeout", "cache"): (
        "io.lettuce.core.RedisCommandTimeoutException: Command timed out after 500 millisecond(s)",
        "redis: i/o timeout reading from {peer}:{port}",
    ),
    ("timeout", "queue"): (
        "org.apache.kafka.common.errors.TimeoutException: Expiring 3 record(s) for {stem}-events-0:2000 ms has passed since batch creation",
    ),
    ("5xx", "database"): (
        "org.postgresql.util.PSQLException: ERROR: deadlock detected (SQLSTATE 40P01)",
        "pq: could not serialize access due to concurrent update (SQLSTATE 40001)",
    ),
    ("5xx", "cache"): ("redis.exceptions.ResponseError: OOM command not allowed when used memory > 'maxmemory'.",),
    ("5xx", "queue"): ("kafka: error while producing: NOT_ENOUGH_REPLICAS (peer={peer})",),
    ("disk", "database"): (
        "org.postgresql.util.PSQLException: ERROR: could not extend file \"base/16384/{n}\": No space left on device (SQLSTATE 53100)",
        "pq: could not write to file \"pg_wal/xlogtemp.{pid}\": No space left on device (SQLSTATE 53100)",
    ),
    ("disk", "cache"): ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",),
    ("disk", "queue"): ("kafka: error while producing: KAFKA_STORAGE_ERROR (Disk error when trying to access log file on the disk)",),
    ("reset", "database"): (
        "org.postgresql.util.PSQLException: An I/O error occurred while sending to the backend. Caused by: java.net.SocketException: Connection reset",
        "driver: bad connection: read tcp {self_ip}:{eport}->{peer_ip}:{port}: read: connection reset by peer",
    ),
    ("timeout", "any"): (
        "java.net.SocketTimeoutException: Read timed out after {ms}ms calling http://{peer}:{port}{peer_path}",
        "rpc error: code = DeadlineExceeded desc = context deadline exceeded (peer={peer}, elapsed={ms}ms)",
        "ReadTimeout: HTTPConnectionPool(host='{peer}', port={port}): Read timed out. (read timeout={secs})",
        "upstream request timeout after {ms}ms: {peer}{peer_path}",
    ),
    ("hang", "any"): (
        "HikariPool-1 - Connection is not available, request timed out after {ms}ms.",
        "timeout acquiring connection to {peer}:{port} after {ms}ms (pool active=20 idle=0 waiting={n})",
        "context deadline exceeded while waiting for {peer}:{port} (elapsed={ms}ms)",
    ),
    ("5xx", "any"): (
        "upstream {peer} returned HTTP {status5} for {peer_path} (request_id={rid})",
        "rpc error: code = Internal desc = {peer}: internal error (request_id={rid})",
        "HttpServerErrorException$InternalServerError: {status5} Internal Server Error from POST http://{peer}:{port}{peer_path}",
        "Request failed with status code {status5} (url=http://{peer}:{port}{peer_path}, rid={rid})",
    ),
    ("reset", "any"): (
        "upstream connect error or disconnect/reset before headers. reset reason: connection termination (peer={peer_ip}:{port})",
        "java.net.SocketException: Connection reset while reading response from {peer}:{port}",
        "read tcp {self_ip}:{eport}->{peer_ip}:{port}: read: connection reset by peer",
        "ECONNRESET: socket hang up (POST http://{peer}:{port}{peer_path})",
    ),
    ("invalid", "any"): (
        "response validation failed for {peer_path}: field '{field}' expected number, got null (order {oid})",
        "InvalidResponseError: {field} must be >= 0, got -{n} (sku={sku})",
        "unexpected empty {field} in payload for order {oid}; rejecting request",
        "IllegalArgumentException: inconsistent totals for order {oid}: items sum {amount} != reported {amount2}",
        "json: cannot unmarshal string into Go struct field Quote.{field} of type float64",
    ),
}

FALLBACK = (
    "cache unavailable ({reason}), falling back to database for key {stem}:{uid}",
    "redis call failed: {reason}; serving {stem}:{uid} from primary store",
)

# Per-request errors at the faulty service, by fault type (and variant where the wording differs).
FAULT = {
    "cpu_saturation": ("request {rid} exceeded latency budget: took {ms}ms (budget 500ms)",
                       "worker pool saturated, request {rid} queued for {ms}ms before processing"),
    "memory_pressure": ("java.lang.OutOfMemoryError: Java heap space (while processing order {oid})",
                        "GC overhead limit exceeded; aborting request {rid}",
                        "MemoryError: cannot allocate {n}MB buffer for request {rid}"),
    "network_delay": ("slow downstream I/O: write to {client_ip} took {ms}ms",),
    "network_loss": ("write tcp {self_ip}:{port}->{client_ip}:{eport}: write: broken pipe (errno 32, EPIPE)",
                     "java.io.IOException: Connection reset by peer (errno 104) while writing response for {rid}",
                     "recv failure: Connection reset by peer (ECONNRESET) on fd {n}"),
    "error_injection": ("java.lang.IllegalStateException: unexpected state PENDING for order {oid}\n\tat c.l.{stem}.service.{Stem}ServiceImpl.process({Stem}ServiceImpl.java:{line})",
                        "NullPointerException: Cannot invoke \"String.length()\" because \"token\" is null at c.l.{stem}.{Stem}Handler.handle({Stem}Handler.java:{line})",
                        "Traceback (most recent call last): ... KeyError: '{field}' in {stem}/handlers.py line {line}",
                        "panic recovered: runtime error: index out of range [{n}] with length {n2} (request {rid})"),
    "config_change:timeout": ("call to dependency failed fast: timeout_ms=0 (effective) for {op}",
                              "deadline exceeded immediately: configured client timeout is 0s (request {rid})"),
    "config_change:pool": ("could not obtain connection: max pool size 2 reached (waiting={n}) for request {rid}",),
    "config_change:flag": ("UnsupportedOperationException: feature '{field}_v2' enabled but handler not registered (request {rid})",
                           "unknown strategy 'v2-{field}' from config; request {rid} rejected"),
    "bad_deploy:exception": ("java.lang.NoSuchMethodError: 'void c.l.{stem}.client.StockClient.reserve(java.lang.String, int)' at c.l.{stem}.service.{Stem}ServiceImpl.reserve({Stem}ServiceImpl.java:{line})",
                             "TypeError: Cannot read properties of undefined (reading '{field}') at {Stem}Handler.handle (/app/dist/handler.js:{line}:17)",
                             "AttributeError: 'NoneType' object has no attribute '{field}' ({stem}/service.py:{line}) [build {version}]"),
    "bad_deploy:schema": ("ERROR: column \"{field}_v2\" does not exist at character {n} (SQLSTATE 42703) query=SELECT ... FROM {table}",
                          "org.hibernate.exception.SQLGrammarException: could not extract ResultSet; column \"{field}_v2\" of relation \"{table}\" does not exist (SQLSTATE 42703)"),
    "bad_deploy:slow": ("request {rid} took {ms}ms (version {version}): N+1 queries detected ({n} statements)",
                        "handler {op} exceeded deadline after {ms}ms (build {version})"),
    "resource_exhaustion:db_pool": ("HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                                    "could not obtain connection from pool: pool exhausted (active=50, idle=0, waiting={n})",
                                    "sqlalchemy.exc.TimeoutError: QueuePool limit of size 20 overflow 10 reached, connection timed out, timeout 30.00"),
    "resource_exhaustion:thread_pool": ("java.util.concurrent.RejectedExecutionException: Thread pool is EXHAUSTED! Pool Size: 200 (active: 200, core: 200, max: 200, largest: 200), Task: {rid}",
                                        "too many open files (errno 24, EMFILE): accept tcp [::]:{port}"),
    "resource_exhaustion:disk_full": ("write /var/lib/{stem}/data/{rid}.tmp: no space left on device (errno 28, ENOSPC)",
                                      "could not extend file \"base/16384/{n}\": No space left on device (SQLSTATE 53100)",
                                      "failed to append to journal: OSError: [Errno 28] No space left on device"),
    "crash_loop": ("request {rid} aborted: worker process exited unexpectedly",),
    "baseline": ("unhandled exception for request {rid}: IllegalArgumentException: invalid page size {n}",
                 "request {rid} failed: upstream client closed connection (499)",
                 "ValidationError: 'email' is not a valid address (user {uid})"),
}

# Timeline lines at the faulty service, not tied to a request.
PERIODIC = {
    "cpu_saturation": ("thread starvation or clock leap detected (housekeeper delta={secs}s)",
                       "event loop blocked for {ms}ms",
                       "runtime: GOMAXPROCS=2 throttled; run queue length {n}"),
    "memory_pressure": ("[GC (Allocation Failure) [PSYoungGen: {n}K->{n2}K] pause {secs}s] heap {pct}% used",
                        "[Full GC (Ergonomics) heap {pct}% used, pause {secs}s]",
                        "memory usage {pct}% of limit ({mem}Mi / {limit}Mi)"),
    "network_delay": ("outbound call latency high: p99 {ms}ms to upstreams",
                      "health probe answered slowly ({ms}ms)"),
    "network_loss": ("retransmitting segment to {client_ip}:{eport} (retry {n2})",
                     "grpc: Server.Serve failed to complete security handshake from \"{client_ip}:{eport}\": connection reset by peer"),
    "resource_exhaustion:db_pool": ("HikariPool-1 - Pool stats (total=50, active=50, idle=0, waiting={n})",),
    "resource_exhaustion:thread_pool": ("executor saturated: active=200 queued={n} rejected={n2}",),
    "resource_exhaustion:disk_full": ("disk usage on /var/lib/{stem} at {pct}% ({mem}Mi free)",),
}

CRASH = {
    "java": ("Exception in thread \"main\" java.lang.IllegalStateException: Failed to load ApplicationContext",
             "Application run failed: BeanCreationException: Error creating bean with name '{stem}Repository'"),
    "go": ("panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x{hex}]",
           "fatal error: concurrent map writes"),
    "python": ("Traceback (most recent call last): File \"/app/{stem}/main.py\", line {line}, in <module> ... RuntimeError: worker boot failed",
               "[CRITICAL] WORKER TIMEOUT (pid:{pid}); worker exiting"),
    "node": ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
             "Error: Cannot find module '/app/dist/{stem}/config.js' (code MODULE_NOT_FOUND)"),
}

STARTUP = {
    "java": "Started {Stem}Application in {secs} seconds (process running for {secs2}) version={version}",
    "go": "{stem} starting version={version} commit={commit} listening on :{port}",
    "python": "Booting worker with pid: {pid} ({stem} {version})",
    "node": "{stem}@{version} listening on port {port} (pid {pid})",
    "database": "database system is ready to accept connections",
    "cache": "Ready to accept connections tcp",
    "queue": "[KafkaServer id=1] started",
}

OOM_KILL = ("Container {stem} in pod {instance} was OOMKilled (exit code 137); restarting",
            "java.lang.OutOfMemoryError: Java heap space -- dumping heap to /tmp/heapdump-{pid}.hprof")

CONFIG_RELOAD = ("configuration reloaded from /etc/{stem}/config.yaml (revision {cfg})",
                 "config validation warning: unknown key '{field}.maxSize' ignored; using default",
                 "config validation warning: value '30s' for 'http.client.timeout_ms' is not an integer; falling back to 0")

DATASTORE_DOWN = {
    "database": ("FATAL: terminating connection due to administrator command",
                 "LOG: received fast shutdown request", "LOG: database system is shut down"),
    "cache": ("# User requested shutdown...", "# Redis is now ready to exit, bye bye..."),
    "queue": ("[KafkaServer id=1] shutting down", "[ReplicaManager broker=1] Stopped serving replicas"),
}
DATASTORE_HUNG = {
    "database": ("LOG: checkpoints are occurring too frequently ({n} seconds apart)",
                 "LOG: process {pid} still waiting for ExclusiveLock on relation {n} after {ms}.0 ms"),
    "cache": ("# Background AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete",),
    "queue": ("[ReplicaFetcher replicaId=1] Error in response for fetch request: request timed out",),
}

# Benign noise anywhere, any time: (level, template).
NOISE = (
    ("WARN", "JWT expired for user {uid}; returning 401"),
    ("WARN", "retrying call to {peer} (attempt 2/3) after {ms}ms"),
    ("WARN", "deprecated API /api/v1/legacy used by client {client_ip}"),
    ("INFO", "GET /healthz 200 {ms_small}ms"),
    ("INFO", "refreshed feature flags ({n} flags, etag {hex})"),
    ("ERROR", "failed to flush metrics to statsd:8125: i/o timeout"),
    ("ERROR", "payment declined for order {oid}: card_declined (insufficient_funds)"),
    ("WARN", "slow request {rid} took {ms}ms"),
    ("ERROR", "client closed request before response (499) path={path}"),
    ("INFO", "cache hit ratio {pct}% over last 60s"),
)
DB_NOISE = (
    ("WARN", "LOG: duration: {ms}.{n} ms  statement: SELECT * FROM {table} WHERE user_id = $1"),
    ("INFO", "LOG: checkpoint complete: wrote {n} buffers ({pct}.0%); 0 WAL file(s) added"),
    ("INFO", "DB saved on disk"),
    ("WARN", "LOG: could not receive data from client: Connection reset by peer"),
)
