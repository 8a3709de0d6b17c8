// Every name the platform gives: public hosts, internal DNS, physical names and SSM paths, from
// the project, the stack and its domain. One place, so a name never drifts between its uses.
import { ALERTMANAGER_SERVICE_NAME } from "../components/alertmanagerCluster";
import { LoadedEnvironment } from "./environment";

type Named = Pick<LoadedEnvironment, "stack" | "domain">;

export const hosts = {
    /** A Prometheus node's public host: its name under the stack's domain. */
    prometheus: (env: Pick<LoadedEnvironment, "domain">, node: string) => `${node}.${env.domain}`,
    alertmanager: (env: Pick<LoadedEnvironment, "domain">, index: number) => `alerts-${index}.${env.domain}`,
    alertmanagers: (env: Pick<LoadedEnvironment, "domain">) => `alerts.${env.domain}`,
    grafana: (env: Pick<LoadedEnvironment, "domain">) => `grafana.${env.domain}`,
};

export { nodeName } from "./nodeKeys";

/** The Cloud Map namespace the Alertmanagers and Grafana register in. */
export function alertmanagerNamespace(env: Pick<Named, "stack">): string {
    return `${env.stack}.monitoring.internal`;
}

/** The DNS name every Alertmanager answers to: the mesh's peers and the nodes' alerting target. */
export function alertmanagerPeerName(env: Pick<Named, "stack">): string {
    return `${ALERTMANAGER_SERVICE_NAME}.${alertmanagerNamespace(env)}`;
}

/** Physical names of a stack's resources start with this: <project>-<stack>. */
export function physicalPrefix(project: string, env: Pick<Named, "stack">): string {
    return `${project}-${env.stack}`;
}

/** A stack's SSM parameters live under /<project>/<stack>/<part>. */
export function parameterPath(project: string, env: Pick<Named, "stack">, part: string): string {
    return `/${project}/${env.stack}/${part}`;
}

/** The log group the nodes ship their journals to. */
export function nodeLogGroupName(project: string, env: Pick<Named, "stack">): string {
    return `/ec2/${physicalPrefix(project, env)}/prometheus-nodes`;
}

/** The tag the snapshot policy selects the data volumes by. */
export function backupTag(project: string, env: Pick<Named, "stack">): { key: string; value: string } {
    return { key: "platform:backup", value: `${physicalPrefix(project, env)}-prometheus-data` };
}
