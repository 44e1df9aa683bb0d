import { Type } from 'typebox';
import { Id, Timestamp } from '../../schemas.js';

export const SshKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'e.g. "laptop"' }),
    publicKey: Type.String({
      minLength: 1,
      maxLength: 16_384,
      description: 'one OpenSSH public key line, e.g. the content of ~/.ssh/id_ed25519.pub',
    }),
    identity: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'id or name of the owner (admins only); default: the caller',
      }),
    ),
  },
  { additionalProperties: false },
);

export const SshKeyQuery = Type.Object(
  { identity: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'owner id or name' })) },
  { additionalProperties: false },
);

export const SshKey = Type.Object({
  id: Id,
  name: Type.String(),
  fingerprint: Type.String({ description: 'SHA256:..., as `ssh-keygen -lf` prints it' }),
  publicKey: Type.String({ description: '"<type> <base64>" (the comment is not kept)' }),
  identity: Type.Object({ id: Id, name: Type.String() }),
  createdAt: Timestamp,
});
