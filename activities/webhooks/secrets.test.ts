import { loadConfig } from '../../lib/config';
import { createStaticWebhookSecretStore, hasWebhookSecret } from './activities';

describe('webhook secrets', () => {
  test('"*" is the secret of every service without its own; base64 padding survives config parsing', async () => {
    const config = loadConfig({ WEBHOOK_SECRETS: '*=whsec_cnRlLWxvY2FsLWRldi13ZWJob29rLXNlY3JldC0zMmI=;svc-a=whsec_YWJj' });
    expect(config.webhooks.secrets['*']).toEqual(['whsec_cnRlLWxvY2FsLWRldi13ZWJob29rLXNlY3JldC0zMmI=']);
    const store = createStaticWebhookSecretStore(config.webhooks.secrets);
    expect(await store.secretsFor('svc-a')).toEqual(['whsec_YWJj']);
    expect(await store.secretsFor('anyone')).toEqual(['whsec_cnRlLWxvY2FsLWRldi13ZWJob29rLXNlY3JldC0zMmI=']);
    expect(hasWebhookSecret(config.webhooks.secrets, 'anyone')).toBe(true);
    expect(hasWebhookSecret(loadConfig({}).webhooks.secrets, 'anyone')).toBe(false);
  });
});
