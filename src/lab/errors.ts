/** The lab's own failures: a stable code each (VXTAP_ERR_LAB_*), as src/errors.ts asks of every error. */
import { VxtapError } from '../errors';

/**
 * Codes: VXTAP_ERR_LAB_NONE (no lab is up), VXTAP_ERR_LAB_EXISTS (one is up
 * already), VXTAP_ERR_LAB_STATE_DIR (a state dir that is not the lab's),
 * VXTAP_ERR_LAB_CMD (a command the lab ran failed), VXTAP_ERR_LAB_START (a
 * daemon or etcd did not come up), VXTAP_ERR_LAB_UNREACHABLE (`lab ping`
 * found a pair that does not answer), VXTAP_ERR_LAB_UNHEALTHY (`lab status`
 * found a part down), VXTAP_ERR_LAB_HOST (no such host),
 * VXTAP_ERR_LAB_MODE (an exercise for the other mode), VXTAP_ERR_LAB_EXERCISE
 * (no such exercise, a lab too small for it, or its evidence not seen).
 */
export class LabError extends VxtapError {
  constructor(code: `VXTAP_ERR_LAB_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
