// The part of picomatch 4 (tinyglobby's matcher) that FileGlob calls; the package ships no types.
declare module "picomatch" {
  interface Options {
    readonly dot?: boolean
    readonly posix?: boolean
    /** Throw the regular expression's SyntaxError instead of returning a regex that matches nothing. */
    readonly debug?: boolean
  }
  interface ScanResult {
    readonly parts?: Array<string>
  }
  const picomatch: {
    makeRe(pattern: string, options?: Options): RegExp
    scan(pattern: string, options?: Options & { readonly parts?: boolean }): ScanResult
  }
  export default picomatch
}
