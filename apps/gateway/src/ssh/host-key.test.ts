import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateEd25519 } from './host-key.js';

describe('SSH host key generation', () => {
  it('only returns pairs whose keys parse back, although ssh2 malforms about one in 256', () => {
    // 3,000 generations: with one bad pair in 256, all good by chance is a 1-in-100,000 event.
    for (let i = 0; i < 3000; i++) {
      const { pair, parsed } = generateEd25519();
      expect(parsed.type).toBe('ssh-ed25519');
      // Public blob: string "ssh-ed25519" (4 + 11 bytes) and the 32-byte key with its length (4 + 32).
      expect(parsed.getPublicSSH()).toHaveLength(51);
      const privateKey = ssh2.utils.parseKey(pair.private);
      expect(privateKey).not.toBeInstanceOf(Error);
      expect((privateKey as ssh2.ParsedKey).getPublicSSH().equals(parsed.getPublicSSH())).toBe(true);
    }
  });
});
