// Grafana's database on Debian's PostgreSQL: made as RDS makes it from the instance's settings (the
// master user owns the initial database) and TLS-only as rds.force_ssl makes it, then reached as
// Grafana's settings say: the connection is encrypted, Grafana's user creates and fills tables, and
// a plain connection or a wrong password is refused. psql uses libpq, whose sslmode Grafana's
// driver follows; Debian's PostgreSQL is the host's, RDS's the stack's major version.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { freePort } from "../rehearsals/lib/net";
import { Processes } from "../rehearsals/lib/processes";
import { issueCertificate } from "../rehearsals/lib/tlsTarget";
import { waitFor } from "../rehearsals/lib/wait";
import { appliedRun, inputsOf, named } from "./helpers/stacks";
import { expectSuccess, requireReady, requireTool, run } from "./helpers/tools";

/** Debian's PostgreSQL server binaries, of whichever major version the machine has. */
function serverBinaries(): string | undefined {
    const root = "/usr/lib/postgresql";
    const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "postgres"))) : [];
    return versions.length > 0 ? path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0], "bin") : undefined;
}

describe("Grafana's database on a real PostgreSQL", function () {
    this.timeout(120000);
    let processes: Processes | undefined;
    let work: string | undefined;

    afterEach(() => {
        processes?.stopAll();
        if (work) {
            fs.rmSync(work, { recursive: true, force: true });
        }
    });

    it("lets Grafana's user connect over TLS only, with its password only, and create tables in its database", async function () {
        const bin = serverBinaries();
        requireReady(this, "PostgreSQL (postgresql)", bin !== undefined);
        const psql = requireTool(this, "psql");
        const setpriv = requireTool(this, "setpriv");
        const program = await appliedRun("production");
        const instance = inputsOf(named(program, "aws:rds/instance:Instance", "grafana-db"));
        const container = JSON.parse(inputsOf(named(program, "aws:ecs/taskDefinition:TaskDefinition", "grafana")).containerDefinitions)[0] as
            { environment: { name: string; value: string }[] };
        const settings = Object.fromEntries(container.environment.map((e) => [e.name, e.value]));
        const parameterGroup = inputsOf(named(program, "aws:rds/parameterGroup:ParameterGroup", "grafana-db"));
        assert.deepEqual(parameterGroup.parameters, [{ name: "rds.force_ssl", value: "1" }], "the stack's database refuses plain connections");

        work = fs.mkdtempSync(path.join(os.tmpdir(), "grafana-db-"));
        fs.chmodSync(work, 0o755);
        const data = path.join(work, "data");
        const asPostgres = (command: string, args: string[]) => run(setpriv, ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", command, ...args]);
        fs.mkdirSync(data, { mode: 0o700 });
        expectSuccess(run("chown", ["postgres:postgres", data]), "chown");
        expectSuccess(asPostgres(path.join(bin!, "initdb"), ["-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=reject"]), "initdb");
        const { keyFile, certFile } = issueCertificate(path.join(work, "tls"), "127.0.0.1", 2);
        for (const [from, to] of [[keyFile, "server.key"], [certFile, "server.crt"]]) {
            fs.copyFileSync(from, path.join(data, to));
            expectSuccess(run("chown", ["postgres:postgres", path.join(data, to)]), "chown");
            fs.chmodSync(path.join(data, to), 0o600);
        }
        // rds.force_ssl: a TCP connection without TLS is refused; the password is checked with SCRAM.
        fs.writeFileSync(path.join(data, "pg_hba.conf"), [
            "local all postgres trust",
            "hostssl all all 127.0.0.1/32 scram-sha-256",
            "hostnossl all all 127.0.0.1/32 reject",
            "",
        ].join("\n"));
        const port = await freePort("127.0.0.1");
        processes = new Processes(work);
        await processes.start("postgres", setpriv, ["--reuid=postgres", "--regid=postgres", "--clear-groups", "--", path.join(bin!, "postgres"),
            "-D", data, "-c", `port=${port}`, "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${data}`, "-c", "ssl=on"],
        { address: { host: "127.0.0.1", port } });
        const admin = (sql: string) => run(psql, ["-h", data, "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", sql]);
        await waitFor("PostgreSQL ready", async () => admin("select 1").status === 0 || undefined, 60000, 200);

        // As RDS makes them from the instance's settings: the master user, owning the initial database.
        const password = "placeholder-random-password-grafana-db-password";
        expectSuccess(admin(`create role "${instance.username}" login createdb createrole password '${password}'`), "create role");
        expectSuccess(admin(`create database "${instance.dbName}" owner "${instance.username}"`), "create database");

        // As Grafana connects: host, database, user and sslmode from its settings.
        const [host, hostPort] = settings.GF_DATABASE_HOST.split(":");
        assert.equal(hostPort, String(instance.port));
        assert.match(host, /\.rds\.amazonaws\.com$/);
        const connect = (sslmode: string, pass: string, sql: string) => run(psql, [
            `host=127.0.0.1 port=${port} dbname=${settings.GF_DATABASE_NAME} user=${settings.GF_DATABASE_USER} sslmode=${sslmode}`,
            "-v", "ON_ERROR_STOP=1", "-Atc", sql,
        ], { env: { ...process.env, PGPASSWORD: pass, PGCONNECT_TIMEOUT: "10" } });
        const made = connect(settings.GF_DATABASE_SSL_MODE, password,
            "create table dashboard (id serial primary key, title text); insert into dashboard (title) values ('made in the UI'); "
            + "select title from dashboard; select ssl from pg_stat_ssl where pid = pg_backend_pid();");
        assert.equal(made.status, 0, made.stderr);
        assert.deepEqual(made.stdout.trim().split("\n"), ["CREATE TABLE", "INSERT 0 1", "made in the UI", "t"], "the table made, the row read back, over an encrypted connection");

        const plain = connect("disable", password, "select 1");
        assert.notEqual(plain.status, 0, "a connection without TLS is refused");
        assert.match(plain.stderr, /no encryption/);
        const wrong = connect(settings.GF_DATABASE_SSL_MODE, "not-the-password", "select 1");
        assert.notEqual(wrong.status, 0, "a wrong password is refused");
        assert.match(wrong.stderr, /password authentication failed for user "grafana"/);
        assert.deepEqual(processes.verify(), []);
    });
});
