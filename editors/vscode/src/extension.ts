// keystroke for VS Code: starts `keystroke lsp` (the model in-process, or a gateway) and lets VS Code's
// language client turn its inline completions into ghost text. Accepting runs the server's
// `keystroke.accepted` command, so acceptance and retention telemetry work as in any editor. The status bar
// follows the server's `keystroke/health` notifications and asks `keystroke/status` when the active editor
// changes (is this file excluded from upload?); nothing polls, and nothing pops up more than once.
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State as ClientState,
} from "vscode-languageclient/node";
import { INSTALL_HINT, findExecutable } from "./executable";
import { pipeServerLog } from "./log";
import { serverLaunch } from "./settings";
import { StatusBar } from "./status";

const SECRET = "keystroke.apiKey";
const HEALTH = "keystroke/health";
const STATUS = "keystroke/status";

interface ServerStatus {
  state: string;
  detail: string;
  excluded: boolean | null; // null: the server does not have this document (yet)
}

let client: LanguageClient | undefined;
let status: StatusBar;
let output: vscode.LogOutputChannel;
let told = false; // "not installed" is said once per session, not per keystroke
let toldRefused = false; // so is "the API key was refused"

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("keystroke", { log: true });
  status = new StatusBar();
  context.subscriptions.push(
    output,
    status,
    vscode.commands.registerCommand("keystroke.toggle", toggle),
    vscode.commands.registerCommand("keystroke.askNow", () =>
      vscode.commands.executeCommand("editor.action.inlineSuggest.trigger"),
    ),
    vscode.commands.registerCommand("keystroke.showStats", showStats),
    vscode.commands.registerCommand("keystroke.showLog", () => output.show(true)),
    vscode.commands.registerCommand("keystroke.setApiKey", () => setApiKey(context)),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("keystroke")) await restart(context);
    }),
    vscode.window.onDidChangeActiveTextEditor(() => void followActiveEditor()),
  );
  await restart(context); // the first start, in line with any restart a settings change asks for meanwhile
}

export async function deactivate(): Promise<void> {
  await stop();
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration("keystroke");
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
  const executable = findExecutable(config.get<string>("path", "").trim(), folders);
  if (!executable) {
    status.set("not-installed", INSTALL_HINT);
    output.appendLine(INSTALL_HINT);
    if (!told) {
      told = true;
      void vscode.window.showWarningMessage(INSTALL_HINT);
    }
    return;
  }
  const launch = serverLaunch(config, await context.secrets.get(SECRET));
  const serverOptions: ServerOptions = {
    command: executable,
    args: launch.args,
    options: { env: { ...process.env, ...launch.env } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never, // the status bar says what is wrong; no pop-ups
    stdioOptions: { stdout: pipeServerLog, stderr: pipeServerLog }, // stdout: only off a stdio transport
    initializationFailedHandler: (error) => {
      output.appendLine(`keystroke lsp did not start: ${error}`);
      status.set("failed", String(error));
      return false;
    },
    middleware: {
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        const started = Date.now();
        const result = await next(document, position, context, token);
        const items = Array.isArray(result) ? result : result?.items ?? [];
        const facts = items[0]?.command?.arguments?.[0] as { lane?: string } | undefined;
        if (facts?.lane) status.suggestion(facts.lane, Date.now() - started);
        return result;
      },
    },
  };
  client = new LanguageClient("keystroke", "keystroke", serverOptions, clientOptions);
  client.onDidChangeState((event) => {
    if (event.newState === ClientState.Stopped && status.lifecycle !== "off") status.set("failed", "see the log");
  });
  client.onNotification(HEALTH, (health: ServerStatus) => onHealth(context, health));
  status.mode = launch.mode;
  status.setHealth("ready", ""); // until the server says otherwise
  status.set("starting", `${launch.mode}: ${launch.args.join(" ")}`);
  try {
    await client.start();
  } catch (error) {
    output.appendLine(`keystroke lsp failed: ${error}`);
    status.set("failed", String(error));
    return;
  }
  status.set("running", `${launch.mode}; ${executable}`);
  await followActiveEditor();
}

/** The server's health changed: the status bar follows; a refused key is said once, with the way to fix it. */
function onHealth(context: vscode.ExtensionContext, health: ServerStatus): void {
  status.setHealth(health.state, health.detail);
  if (health.state === "refused" && !toldRefused) {
    toldRefused = true;
    const fix = "Set API key";
    void vscode.window
      .showWarningMessage("keystroke: the gateway refused the API key; suggestions come from the local lane only.", fix)
      .then((choice) => (choice === fix ? setApiKey(context) : undefined));
  }
}

/** Ask the server what the status bar should say for the active editor's file (health; excluded or not). */
async function followActiveEditor(retried = false): Promise<void> {
  if (!client || client.state !== ClientState.Running) return;
  const uri = vscode.window.activeTextEditor?.document.uri.toString();
  try {
    const found = (await client.sendRequest(STATUS, uri ? { uri } : {})) as ServerStatus;
    status.setHealth(found.state, found.detail);
    status.setExcluded(found.excluded === true);
    if (uri && found.excluded === null && !retried) setTimeout(() => void followActiveEditor(true), 500); // opening
  } catch {
    // the server is busy or restarting: the next editor change or health notification tells
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running) await running.stop().catch(() => undefined);
}

let restarting: Promise<void> = Promise.resolve();

/** Stop the server and start it as the settings now say. Restarts run one after another, never side by side:
 * two overlapping ones (a settings change and a key change at once) would each start a server. */
function restart(context: vscode.ExtensionContext): Promise<void> {
  restarting = restarting
    .then(async () => {
      await stop();
      if (vscode.workspace.getConfiguration("keystroke").get<boolean>("enable", true)) await start(context);
      else status.set("off");
    })
    .catch((error) => {
      output.appendLine(`keystroke lsp did not restart: ${error}`); // the next restart still runs
      status.set("failed", String(error));
    });
  return restarting;
}

/** Flip `keystroke.enable` where it is set (the workspace's settings, or the user's); the change restarts. */
async function toggle(): Promise<void> {
  const config = vscode.workspace.getConfiguration("keystroke");
  const inWorkspace = config.inspect<boolean>("enable")?.workspaceValue !== undefined;
  const target = inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await config.update("enable", !config.get<boolean>("enable", true), target);
}

async function showStats(): Promise<void> {
  if (!client || client.state !== ClientState.Running) {
    output.show(true);
    return;
  }
  const stats = await client.sendRequest("keystroke/stats", {});
  output.appendLine(JSON.stringify(stats, null, 2));
  output.show(true);
}

async function setApiKey(context: vscode.ExtensionContext): Promise<void> {
  const key = await vscode.window.showInputBox({
    prompt: "API key for the keystroke gateway (kept in VS Code's secret storage, not in settings)",
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  if (key) await context.secrets.store(SECRET, key);
  else await context.secrets.delete(SECRET);
  await restart(context);
}
