/**
 * What a handler may ask about the caller once the guard has let the request through: the few
 * decisions that depend on more than the request's own repository (a mount's `from`, the catalog).
 */
export interface RequestAccess {
  /** Access control is off: no filtering, and automatic mounts may use any repository. */
  readonly unrestricted: boolean;
  /** The authenticated user's name, if any. */
  readonly actor?: string;
  /** May the caller read this repository (a mount source)? */
  canPull(repository: string): boolean;
  /** Does the catalog show this repository to the caller? */
  canList(repository: string): boolean;
}

export const UNRESTRICTED: RequestAccess = {
  unrestricted: true,
  canPull: () => true,
  canList: () => true,
};
