import { describe, expect, it } from 'vitest';
import { ReceiveWindow, SendCredit } from './credit-window.js';

describe('ReceiveWindow', () => {
  it('grants credit only for consumed bytes, in batches of a quarter window', () => {
    const w = new ReceiveWindow(1000);
    expect(w.receive(600)).toBe(true);
    // Nothing consumed yet: all 600 are still buffered.
    expect(w.grant(600)).toBe(0);
    // 200 consumed: below the 250 batch threshold.
    expect(w.grant(400)).toBe(0);
    // 600 consumed: peer may again have a full window outstanding.
    expect(w.grant(0)).toBe(600);
    expect(w.grant(0)).toBe(0);
  });

  it('flags a peer that sends beyond its credit', () => {
    const w = new ReceiveWindow(100);
    expect(w.receive(100)).toBe(true);
    expect(w.receive(1)).toBe(false);
  });

  it('keeps granted-but-unreceived plus buffered within the window', () => {
    const w = new ReceiveWindow(1000);
    let granted = 1000;
    let received = 0;
    let buffered = 0;
    for (let i = 0; i < 1000; i++) {
      const n = Math.min(granted - received, Math.floor(Math.random() * 300));
      expect(w.receive(n)).toBe(true);
      received += n;
      buffered += n;
      buffered -= Math.floor(Math.random() * (buffered + 1));
      granted += w.grant(buffered);
      expect(granted - received + buffered).toBeLessThanOrEqual(1000);
    }
  });
});

describe('SendCredit', () => {
  it('blocks a writer until credit arrives and fails it when the session dies', async () => {
    const c = new SendCredit(0);
    let woke = false;
    const waiting = c.wait().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    c.add(10);
    await waiting;
    expect(c.take(25)).toBe(10);
    const failing = c.wait();
    c.fail(new Error('gone'));
    await expect(failing).rejects.toThrow('gone');
    await expect(c.wait()).rejects.toThrow('gone');
  });
});
