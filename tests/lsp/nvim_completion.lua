-- Headless Neovim (0.7+) as a real editor: start `keystroke lsp`, open a file, ask textDocument/completion at
-- each requested cursor, write what came back as JSON. Driven by tests/lsp/test_neovim.py through environment
-- variables: KS_CMD (JSON list), KS_ROOT, KS_FILE, KS_CURSORS (JSON list of [line, column], 1-based line),
-- KS_OUT.
local cmd = vim.fn.json_decode(os.getenv("KS_CMD"))
local root = os.getenv("KS_ROOT")
local out = os.getenv("KS_OUT")
local cursors = vim.fn.json_decode(os.getenv("KS_CURSORS"))

vim.o.virtualedit = "onemore" -- the cursor may sit after the last character, as in insert mode
local client_id = vim.lsp.start_client({ name = "keystroke", cmd = cmd, root_dir = root })
vim.cmd("edit " .. os.getenv("KS_FILE"))
vim.lsp.buf_attach_client(0, client_id)
local ready = vim.wait(60000, function()
  local client = vim.lsp.get_client_by_id(client_id)
  return client ~= nil and client.initialized == true
end, 50)

local report = { ready = ready, answers = {} }
for _, cursor in ipairs(cursors) do
  vim.api.nvim_win_set_cursor(0, { cursor[1], cursor[2] })
  local params = vim.lsp.util.make_position_params()
  local responses, err = vim.lsp.buf_request_sync(0, "textDocument/completion", params, 60000)
  local labels, edits = {}, {}
  for _, response in pairs(responses or {}) do
    local result = response.result or {}
    for _, item in ipairs(result.items or result) do
      table.insert(labels, item.label)
      table.insert(edits, item.textEdit and item.textEdit.newText or vim.NIL)
    end
  end
  table.insert(report.answers, { labels = labels, edits = edits, error = err or vim.NIL })
end
vim.fn.writefile({ vim.fn.json_encode(report) }, out)
vim.lsp.stop_client(client_id)
vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
vim.cmd("qa!")
