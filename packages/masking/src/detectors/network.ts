import { isIP } from 'node:net';
import { regexDetector, type Detector } from './types.js';

/**
 * `ipv4`: dotted quads validated by `net.isIP` (octets 0–255, no leading zeros). Not glued to
 * words or other dotted numbers, so `v1.2.3.4`, `1.2.3`, `1.2.3.4-beta` and OIDs like `1.3.6.1.4.1` are not
 * addresses.
 */
export const ipv4: Detector = regexDetector(
  'ipv4',
  /(?<![0-9A-Za-z_.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z_]|\.\d|-[A-Za-z])/g,
  (m) => isIP(m[0]) === 4,
);

/**
 * `ipv6`: candidates of hex groups and colons (optionally ending in a dotted quad, with an
 * optional `%zone`) validated by `net.isIP`. To keep `std::vector`-like text and short hex
 * fragments out, an address needs at least three colons or a group of three or more hex digits
 * (`fe80::1` yes, `ad::be` and `::1` no); times and MAC addresses are not valid IPv6.
 */
export const ipv6: Detector = regexDetector(
  'ipv6',
  /(?<![0-9A-Za-z_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})(?:%[0-9A-Za-z]+)?(?![0-9A-Za-z_:]|\.\d)/g,
  (m) => {
    const text = m[0];
    const pct = text.indexOf('%');
    const addr = pct < 0 ? text : text.slice(0, pct);
    let colons = 0;
    for (let i = 0; i < addr.length; i++) if (addr.charCodeAt(i) === 0x3a) colons++;
    return (colons >= 3 || /[0-9A-Fa-f]{3}/.test(addr)) && isIP(addr) === 6;
  },
);
