-- E-mail templates may carry an HTML body (sent to MCP's `html`, next to the plain-text `body`); the
-- placeholders of both are the template's variables.
ALTER TABLE templates ADD COLUMN html TEXT;
ALTER TABLE templates ADD CONSTRAINT templates_html_email_check CHECK (html IS NULL OR canal = 'email');
