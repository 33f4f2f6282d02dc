/** A command line the user must fix: exit code 2, as usage errors have by convention. */
export class UsageError extends Error {}
