// Every port the platform listens on or opens, in one place.

/** Prometheus's own listener on each node (behind nginx from outside the node). */
export const PROMETHEUS_PORT = 9090;
/** node_exporter on each node. */
export const NODE_EXPORTER_PORT = 9100;
/** The blackbox exporter on each node, which the nodes' probes run through. */
export const BLACKBOX_PORT = 9115;
/** nginx's auth proxy on each node: the port the ALB and Grafana reach Prometheus through. */
export const INGRESS_PORT = 80;
/** Alertmanager's API and UI on each member. */
export const ALERTMANAGER_PORT = 9093;
/** Alertmanager's gossip mesh, TCP and UDP. */
export const MESH_PORT = 9094;
/** Grafana's HTTP listener in its task. */
export const GRAFANA_PORT = 3000;
/** The ALB's listeners: plain HTTP (redirected) and HTTPS. */
export const HTTP_PORT = 80;
export const HTTPS_PORT = 443;
