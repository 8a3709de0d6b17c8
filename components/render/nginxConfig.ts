// Pure renderer of a Prometheus node's nginx.conf: the auth-proxy in front of Prometheus and the
// paas-proxy that Prometheus scrapes PaaS apps through.

export interface NginxConfigInput {
    /** Port the ALB forwards to. */
    listenPort: number;
    /** Where Prometheus listens, e.g. 127.0.0.1:9090. */
    prometheusUpstream: string;
    /** Office networks: pass without credentials. */
    officeCidrs: string[];
    /** The ALB's subnets: the only peers whose X-Forwarded-For is believed, and who may ask /health. */
    trustedProxyCidrs: string[];
    htpasswdFile: string;
    /** Loopback address and port of the paas-proxy. */
    paasProxyListen: string;
    /** DNS resolver for the paas-proxy's upstreams (the VPC resolver on EC2). */
    resolver: string;
    /** Paths remappable for tests. */
    pidFile: string;
    errorLog: string;
    accessLog: string;
    tempDir?: string;
    user?: string;
}

export const NGINX_DEFAULTS = {
    listenPort: 80,
    paasProxyListen: "127.0.0.1:8080",
    resolver: "169.254.169.253",
    htpasswdFile: "/etc/nginx/htpasswd",
    pidFile: "/run/nginx.pid",
    errorLog: "/var/log/nginx/error.log",
    accessLog: "/var/log/nginx/access.log",
    user: "www-data",
} as const;

function lines(prefix: string, values: string[], indent: number): string {
    return values.map((v) => `${prefix} ${v};`).join(`\n${" ".repeat(indent)}`);
}

export function renderNginxConfig(input: NginxConfigInput): string {
    const temp = input.tempDir
        ? ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
            .map((kind) => `${kind}_temp_path ${input.tempDir}/${kind};`).join("\n    ")
        : "";
    return `${input.user ? `user ${input.user};\n` : ""}worker_processes auto;
pid ${input.pidFile};
error_log ${input.errorLog} warn;

events {
    worker_connections 1024;
}

http {
    server_tokens off;
    access_log ${input.accessLog};
    ${temp}

    # Auth-proxy in front of Prometheus: office addresses pass, everyone else needs basic auth.
    server {
        listen ${input.listenPort} default_server;

        # The client address comes from X-Forwarded-For only when the ALB sent the request.
        ${lines("set_real_ip_from", input.trustedProxyCidrs, 8)}
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;

        # The ALB's health check: Prometheus' own, from the ALB's subnets only, without credentials.
        # (Not "return": it would answer before allow and deny are applied.)
        location = /health {
            access_log off;
            ${lines("allow", input.trustedProxyCidrs, 12)}
            deny all;
            proxy_pass http://${input.prometheusUpstream}/-/healthy;
        }

        # Lifecycle and admin endpoints are the node's own business: nobody reaches them through here.
        location ~ ^/(-/(reload|quit)|api/v1/admin/) {
            return 403;
        }

        location / {
            satisfy any;
            ${lines("allow", input.officeCidrs, 12)}
            deny all;
            auth_basic "Prometheus";
            auth_basic_user_file ${input.htpasswdFile};

            proxy_pass http://${input.prometheusUpstream};
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_read_timeout 120s;
        }
    }

    # paas-proxy: Prometheus scrapes PaaS apps through this forward proxy (proxy_url). The target's
    # cf_app_guid and cf_app_instance_index parameters become the instance header and bearer token.
    server {
        listen ${input.paasProxyListen};
        resolver ${input.resolver} valid=30s ipv6=off;

        location / {
            proxy_pass https://$host$uri;
            proxy_ssl_server_name on;
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
            proxy_set_header Host $host;
            proxy_set_header X-CF-APP-INSTANCE "$arg_cf_app_guid:$arg_cf_app_instance_index";
            proxy_set_header Authorization "Bearer $arg_cf_app_guid";
        }
    }
}
`;
}

/** The htpasswd line for a user and a bcrypt hash (from @pulumi/random's RandomPassword). */
export function htpasswdLine(user: string, bcryptHash: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(user)) {
        throw new Error(`basic-auth user ${JSON.stringify(user)} may only hold letters, digits, '.', '_' and '-'`);
    }
    return `${user}:${bcryptHash}\n`;
}

/** The htpasswd file of every accepted credential; one line per user (nginx reads only a user's first line). */
export function renderHtpasswd(credentials: { user: string; bcryptHash: string }[]): string {
    const users = credentials.map((c) => c.user);
    const twice = users.filter((user, i) => users.indexOf(user) !== i);
    if (twice.length > 0) {
        throw new Error(`basic-auth users must differ: ${twice.join(", ")} appears twice, and nginx would check only its first password`);
    }
    return credentials.map((c) => htpasswdLine(c.user, c.bcryptHash)).join("");
}
