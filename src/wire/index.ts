/**
 * The wire layer: codecs over bytes, no I/O. Each codec is a namespace:
 * `ethernet.etherType(buf, off)`, `new ipv4.Ipv4Packet(buf, off, len)`, ...
 */
export * as addr from './addr';
export * as arp from './arp';
export * as checksum from './checksum';
export * as decode from './decode';
export * as ethernet from './ethernet';
export * as icmp from './icmp';
export * as icmpv6 from './icmpv6';
export * as ipv4 from './ipv4';
export * as ipv6 from './ipv6';
export * as netlink from './netlink';
export * as tcp from './tcp';
export * as udp from './udp';
export * as vxlan from './vxlan';
export { decodeFrame, formatLayers, type DecodedLayer } from './decode';
