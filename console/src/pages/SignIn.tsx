import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SegmentedControl from "@cloudscape-design/components/segmented-control";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { ApiError, Credentials, Session, signIn, why } from "../api";

type Way = "password" | "key";

/** Sign-in with an IAM user's console password (set with `aws iam create-login-profile`)
 * or an access key pair; a password the administrator marked for reset is changed here. */
export default function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [way, setWay] = useState<Way>("password");
  const [keyId, setKeyId] = useState("");
  const [secret, setSecret] = useState("");
  const [account, setAccount] = useState("");
  const [userName, setUserName] = useState("");
  const [password, setPassword] = useState("");
  const [newPassword, setNewPassword] = useState("");
  const [mustChange, setMustChange] = useState(false);
  const [region, setRegion] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const credentials = (): Credentials =>
    way === "key"
      ? { accessKeyId: keyId.trim(), secretAccessKey: secret }
      : { account: account.trim(), userName: userName.trim(), password, ...(mustChange ? { newPassword } : {}) };
  const ready = way === "key" ? keyId && secret : userName && password && (!mustChange || newPassword);

  const submit = async () => {
    setBusy(true);
    setError("");
    try {
      onSignedIn(await signIn(credentials(), region.trim()));
    } catch (e) {
      if (e instanceof ApiError && e.code === "PasswordResetRequired") {
        setMustChange(true);
        setError("Your password must be changed: choose a new one.");
      } else {
        setError(why(e));
      }
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
              <Button variant="primary" loading={busy} disabled={!ready}>
                Sign in
              </Button>
            }
            errorText={error || undefined}
          >
            <Container
              header={
                <Header variant="h1" description="Sign in as an IAM user of this Steward server.">
                  Steward console
                </Header>
              }
            >
              <SpaceBetween size="m">
                <SegmentedControl
                  selectedId={way}
                  onChange={({ detail }) => {
                    setWay(detail.selectedId as Way);
                    setError("");
                  }}
                  label="Sign in with"
                  options={[
                    { id: "password", text: "Password" },
                    { id: "key", text: "Access key" },
                  ]}
                />
                {way === "key" ? (
                  <>
                    <FormField label="Access key ID">
                      <Input value={keyId} onChange={({ detail }) => setKeyId(detail.value)} autoFocus />
                    </FormField>
                    <FormField label="Secret access key">
                      <Input type="password" value={secret} onChange={({ detail }) => setSecret(detail.value)} />
                    </FormField>
                  </>
                ) : (
                  <>
                    <FormField label="Account ID" description="Leave empty for the server's own account.">
                      <Input
                        value={account}
                        placeholder="123456789012"
                        onChange={({ detail }) => setAccount(detail.value)}
                      />
                    </FormField>
                    <FormField label="User name">
                      <Input value={userName} onChange={({ detail }) => setUserName(detail.value)} autoFocus />
                    </FormField>
                    <FormField label="Password">
                      <Input type="password" value={password} onChange={({ detail }) => setPassword(detail.value)} />
                    </FormField>
                    {mustChange && (
                      <FormField
                        label="New password"
                        description="8 or more characters with three of: upper case, lower case, digits, symbols."
                      >
                        <Input
                          type="password"
                          value={newPassword}
                          onChange={({ detail }) => setNewPassword(detail.value)}
                        />
                      </FormField>
                    )}
                  </>
                )}
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
