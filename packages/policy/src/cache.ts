export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries evicted to stay within bounds. */
  evictions: number;
  size: number;
  maxEntries: number;
}

export interface LruOptions {
  /** Most entries kept (default 10,000). */
  maxEntries?: number;
  /** Longest key (SQL text, in characters) that is cached at all (default 64 KiB); longer ones are recomputed. */
  maxKeyLength?: number;
  /** Bound on the sum of cached key lengths (default 16 Mi characters). */
  maxTotalKeyLength?: number;
}

/**
 * A bounded, approximately least-recently-used map from SQL text to a computed value, with hit/miss
 * counters for metrics. Two generations (as in quick-lru): entries go into `young`; when it is full
 * it becomes `old` and the previous `old` is dropped; a hit in `old` moves the entry back to
 * `young`. A hit in `young` is a single Map lookup: no re-insertion on the hot path (deleting and
 * re-adding a key on every hit makes V8's ordered hash table compact itself over and over).
 */
export class LruCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private youngKeyLength = 0;
  private readonly generationEntries: number;
  private readonly generationKeyLength: number;
  private readonly maxEntries: number;
  private readonly maxKeyLength: number;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(options: LruOptions = {}) {
    this.maxEntries = Math.max(2, options.maxEntries ?? 10_000);
    this.generationEntries = Math.ceil(this.maxEntries / 2);
    this.maxKeyLength = options.maxKeyLength ?? 64 * 1024;
    this.generationKeyLength = Math.floor((options.maxTotalKeyLength ?? 16 * 1024 * 1024) / 2);
  }

  /** The cached value, or the computed one (cached when the key is short enough). */
  getOrCompute(key: string, compute: () => V): V {
    const young = this.young.get(key);
    if (young !== undefined) {
      this.hits++;
      return young;
    }
    const old = this.old.get(key);
    if (old !== undefined) {
      this.hits++;
      this.old.delete(key);
      this.add(key, old);
      return old;
    }
    this.misses++;
    const value = compute();
    if (key.length <= this.maxKeyLength) this.add(key, value);
    return value;
  }

  private add(key: string, value: V): void {
    if (this.young.size >= this.generationEntries || this.youngKeyLength + key.length > this.generationKeyLength) {
      this.evictions += this.old.size;
      this.old = this.young;
      this.young = new Map();
      this.youngKeyLength = 0;
    }
    this.young.set(key, value);
    this.youngKeyLength += key.length;
  }

  clear(): void {
    this.young = new Map();
    this.old = new Map();
    this.youngKeyLength = 0;
  }

  stats(): CacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      size: this.young.size + this.old.size,
      maxEntries: this.maxEntries,
    };
  }
}
