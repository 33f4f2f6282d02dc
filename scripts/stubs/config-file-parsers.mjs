// @effect/cli can read option values from YAML, TOML and INI files (`Args.fileParse`);
// zephyr's commands have no such options, so the build leaves those parsers out: about
// 400 KB that every `zephyr` command would otherwise parse at start-up.
export const parse = () => {
  throw new Error("zephyr's command line does not read YAML, TOML or INI files")
}
