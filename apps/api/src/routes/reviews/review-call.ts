import { ReviewError } from '@warden/reviews';
import { ApiError } from '../../errors.js';

/** Runs a @warden/reviews call, answering its refusals with their own status and message. */
export async function reviewCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ReviewError) throw new ApiError(err.status, err.message);
    throw err;
  }
}
