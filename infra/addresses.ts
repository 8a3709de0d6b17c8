// Address arithmetic: CIDRs parsed strictly, compared, and divided into subnets and hosts.
import * as ipaddr from "ipaddr.js";

/** Parses a CIDR strictly: valid address, prefix in range, no host bits set. */
export function parseCidr(cidr: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
    const [address, prefix] = ipaddr.parseCIDR(cidr);
    const network = address.kind() === "ipv4"
        ? ipaddr.IPv4.networkAddressFromCIDR(cidr)
        : ipaddr.IPv6.networkAddressFromCIDR(cidr);
    if (network.toString() !== address.toString()) {
        throw new Error(`host bits are set (the network is ${network.toString()}/${prefix})`);
    }
    return [address, prefix];
}

export function cidrsOverlap(a: string, b: string): boolean {
    const [addrA, prefixA] = parseCidr(a);
    const [addrB, prefixB] = parseCidr(b);
    if (addrA.kind() !== addrB.kind()) {
        return false;
    }
    return addrA.match(addrB, Math.min(prefixA, prefixB));
}

/** Whether `inner` lies wholly inside one of `outers`; a malformed CIDR on either side never fits. */
export function cidrWithin(inner: string, outers: string[]): boolean {
    try {
        const [address, prefix] = ipaddr.parseCIDR(inner);
        return outers.some((outer) => {
            const [outerAddress, outerPrefix] = ipaddr.parseCIDR(outer);
            return outerAddress.kind() === address.kind() && prefix >= outerPrefix && address.match(outerAddress, outerPrefix);
        });
    } catch {
        return false;
    }
}

function ipv4ToNumber(address: ipaddr.IPv4): number {
    return address.toByteArray().reduce((acc, byte) => acc * 256 + byte, 0);
}

function numberToIpv4(value: number): string {
    const bytes = [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256);
    return ipaddr.fromByteArray(bytes).toString();
}

/** The `index`-th subnet of `prefix` bits inside an IPv4 network. */
export function subnetOf(networkCidr: string, prefix: number, index: number): string {
    const [address, networkPrefix] = parseCidr(networkCidr);
    const start = ipv4ToNumber(address as ipaddr.IPv4) + index * 2 ** (32 - prefix);
    if (index >= 2 ** (prefix - networkPrefix)) {
        throw new Error(`${networkCidr} has no subnet number ${index} of size /${prefix}`);
    }
    return `${numberToIpv4(start)}/${prefix}`;
}

export function hostOf(networkCidr: string, offset: number): string {
    const [address] = parseCidr(networkCidr);
    return numberToIpv4(ipv4ToNumber(address as ipaddr.IPv4) + offset);
}
