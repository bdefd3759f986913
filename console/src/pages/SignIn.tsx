import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { Session, signIn, why } from "../api";

export default function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [keyId, setKeyId] = useState("");
  const [secret, setSecret] = useState("");
  const [region, setRegion] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    setBusy(true);
    setError("");
    try {
      onSignedIn(await signIn(keyId.trim(), secret, region.trim()));
    } catch (e) {
      setError(why(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box padding={{ vertical: "xxxl", horizontal: "l" }}>
      <div style={{ maxWidth: 480, margin: "0 auto" }}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <Form
            actions={
              <Button variant="primary" loading={busy} disabled={!keyId || !secret}>
                Sign in
              </Button>
            }
            errorText={error || undefined}
          >
            <Container
              header={
                <Header variant="h1" description="Sign in with an access key pair of this Steward server.">
                  Steward console
                </Header>
              }
            >
              <SpaceBetween size="m">
                <FormField label="Access key ID">
                  <Input value={keyId} onChange={({ detail }) => setKeyId(detail.value)} autoFocus />
                </FormField>
                <FormField label="Secret access key">
                  <Input type="password" value={secret} onChange={({ detail }) => setSecret(detail.value)} />
                </FormField>
                <FormField label="Region" description="Leave empty for the server's region.">
                  <Input value={region} placeholder="us-east-1" onChange={({ detail }) => setRegion(detail.value)} />
                </FormField>
              </SpaceBetween>
            </Container>
          </Form>
        </form>
      </div>
    </Box>
  );
}
