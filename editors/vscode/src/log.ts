// The server's stderr into the extension's log at the level each line names ("keystroke lsp WARNING ..."),
// instead of every line as an error (the language client's default for stderr). Lines without a level (the
// rest of a multi-line message) are info. Debug lines show when the log's level is set to Debug.
import * as readline from "readline";
import type { Readable } from "stream";
import type * as vscode from "vscode";

const LINE = /^keystroke lsp (DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

export function pipeServerLog(input: Readable, log: vscode.LogOutputChannel): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", (line: string) => {
    const found = LINE.exec(line);
    const text = found ? found[2] : line;
    switch (found?.[1]) {
      case "DEBUG":
        return log.debug(text);
      case "WARNING":
        return log.warn(text);
      case "ERROR":
      case "CRITICAL":
        return log.error(text);
      default:
        return log.info(text);
    }
  });
}
