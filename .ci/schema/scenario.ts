// A short scenario typed with the `paths` openapi-typescript generated (default options) from
// /api/schema/, through openapi-fetch. Type-checked with `tsc --noEmit`, run with tsx:
//   tsx scenario.ts BASE_URL API_KEY
import createClient from "openapi-fetch";
import type { components, paths } from "./.generated/schema";

type PaymentCreate = components["schemas"]["PaymentCreateRequest"];

const [baseUrl, apiKey] = process.argv.slice(2);
if (!baseUrl || !apiKey) throw new Error("usage: scenario.ts BASE_URL API_KEY");

const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${apiKey}` } });

function must<T>(result: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (result.data === undefined) {
    throw new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

async function main(): Promise<void> {
  const run = Math.random().toString(16).slice(2, 10);
  const today = new Date().toISOString().slice(0, 10);

  const customer = must(
    await api.POST("/api/v1/customers", {
      body: { company_name: `TS Co ${run}`, contacts: [{ contact_name: "Grace", phone: "555-0100" }] },
    }),
    "create customer",
  ).data;

  const invoice = must(
    await api.POST("/api/v1/invoices", {
      body: {
        invoice_number: `TS-${run}`,
        customer_id: customer.id,
        due_date: today,
        lines: [{ amount: "10.10" }, { amount: 20.2 }], // no `note`: optional
      },
    }),
    "create invoice",
  ).data;

  // Only the required fields compile and are accepted.
  const paymentBody: PaymentCreate = { amount: "30.30", payment_date: today };
  const payment = must(
    await api.POST("/api/v1/payments", { body: paymentBody, params: { header: { "Idempotency-Key": `ts-${run}` } } }),
    "create payment",
  ).data;

  const applied = must(
    await api.PATCH("/api/v1/payments/{id}", {
      params: { path: { id: payment.id } },
      body: { invoice_id: invoice.id }, // no write_off_short_payment sent
    }),
    "apply payment",
  ).data;
  if (applied.invoice_id !== invoice.id) throw new Error("payment not applied");
  const unapplied: number = applied.unapplied_amount;

  const queue = must(
    await api.GET("/api/v1/payments", { params: { query: { reviewed: false } } }),
    "review queue",
  );

  const changes = must(await api.GET("/api/v1/reconciliation/changes", {}), "list changes");

  const receivables = must(await api.GET("/hermes/api/v1/receivables", {}), "Aplos receivables");
  const self: string = receivables.links.self;
  if (!self.startsWith("/hermes/api/v1/receivables")) throw new Error(`links.self: ${self}`);

  // A 409 declares existing_id.
  const duplicate = await api.POST("/api/v1/customers", {
    body: {
      company_name: `TS Co ${run} again`,
      customer_id: `TS-EXT-${run}`,
      contacts: [{ contact_name: "Alan", email: "alan@example.com" }],
    },
  });
  must(duplicate, "create customer with external id");
  const again = await api.POST("/api/v1/customers", {
    body: { company_name: `TS Co ${run} 3`, customer_id: `TS-EXT-${run}`, contacts: [{ contact_name: "Al", email: "al@example.com" }] },
  });
  if (again.response.status !== 409 || !again.error?.error.existing_id) {
    throw new Error(`expected a 409 with existing_id, got ${again.response.status}`);
  }

  console.log(
    `typescript scenario OK: invoice ${invoice.invoice_number} paid (unapplied ${unapplied}); ` +
      `${queue.pagination.total} payment(s) to review; ${changes.pagination.total} approved change(s); ` +
      `${receivables.meta.resource_count} Aplos receivable(s)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
