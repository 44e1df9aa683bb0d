import { describe, expect, it } from 'vitest';
import { decisionRefusal } from './eligibility.js';

const review = { requesterId: 'req', approverGroups: ['dba', 'sre'], allowSameGroup: true };
const refusal = (r: typeof review, decider: { identityId: string; groups: string[] }, requesterGroups: string[] = []) =>
  decisionRefusal(r, decider, requesterGroups)?.code;

describe('decisionRefusal', () => {
  it('members of an approver group may decide', () => {
    expect(refusal(review, { identityId: 'a', groups: ['sre'] })).toBeUndefined();
  });

  it('the requester never decides their own review, even in an approver group', () => {
    expect(refusal(review, { identityId: 'req', groups: ['dba'] })).toBe('own_review');
  });

  it('outside the approver groups nobody decides, whatever their role', () => {
    expect(refusal(review, { identityId: 'admin', groups: [] })).toBe('not_an_approver');
    expect(refusal(review, { identityId: 'a', groups: ['engineering'] })).toBe('not_an_approver');
  });

  it('allowSameGroup false refuses anyone sharing a group with the requester', () => {
    const strict = { ...review, allowSameGroup: false };
    expect(refusal(strict, { identityId: 'a', groups: ['dba', 'eng'] }, ['eng'])).toBe('same_group');
    expect(refusal(strict, { identityId: 'a', groups: ['dba'] }, ['eng'])).toBeUndefined();
    // Sharing the approver group itself counts too: the requester's own team cannot wave it through.
    expect(refusal(strict, { identityId: 'a', groups: ['dba'] }, ['dba'])).toBe('same_group');
    expect(refusal(review, { identityId: 'a', groups: ['dba'] }, ['dba'])).toBeUndefined();
  });

  it('errors carry the HTTP status the API answers with', () => {
    expect(decisionRefusal(review, { identityId: 'req', groups: [] }, [])?.status).toBe(403);
  });
});
