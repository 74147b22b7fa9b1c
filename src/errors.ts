/**
 * One base error with a stable `code`, and a subclass per kind of failure
 * (the undici habit). Callers switch on `code`, never on `message`: messages
 * are for people and may change, codes are an API.
 *
 * Exceptions are for the edges (bad flags, bad config, a syscall that failed
 * at start-up) and for broken invariants. A bad packet is never an exception:
 * the data plane counts it as a drop with a reason.
 */
export class VxtapError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A flag, a peers file or a network config that cannot be used. */
export class ConfigError extends VxtapError {
  constructor(message: string, readonly field?: string) {
    super('VXTAP_ERR_CONFIG', message);
  }
}

/** Untrusted bytes that do not hold the header they claim to (checked constructors). */
export class WireError extends VxtapError {
  constructor(message: string) {
    super('VXTAP_ERR_WIRE', message);
  }
}

/**
 * A system call failed. `errno` is the errno's name (`EBUSY`, `EPERM`, ...),
 * as the native addon reports it, so that callers can tell "device busy" from
 * "not permitted" without parsing text.
 */
export class SystemError extends VxtapError {
  constructor(readonly syscall: string, readonly errno: string, message: string) {
    super(`VXTAP_ERR_SYS_${errno}`, message);
  }
}

/** A kernel-side change (link, address, route) over rtnetlink failed. */
export class NetlinkError extends VxtapError {
  constructor(message: string, readonly errno?: string, options?: { cause?: unknown }) {
    super('VXTAP_ERR_NETLINK', message, options);
  }
}

/** A prerequisite of the host is missing (not root, no /dev/net/tun, no binary). */
export class PrerequisiteError extends VxtapError {
  constructor(message: string, readonly fix: string) {
    super('VXTAP_ERR_PREREQ', `${message} (fix: ${fix})`);
  }
}

/**
 * A route vxtap would install has a destination that already has a route
 * vxtap did not install (a connected route, another daemon's, an operator's):
 * vxtap leaves it alone and refuses the peer (README, "Routes are owned").
 */
export class RouteConflictError extends VxtapError {
  constructor(message: string, readonly dst: string, readonly existing: string) {
    super('VXTAP_ERR_ROUTE_CONFLICT', message);
  }
}
