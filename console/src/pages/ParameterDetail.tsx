import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { call, callAll, when, why } from "../api";

/** One parameter: its value (a SecureString's only on demand, decrypted as the signed-in
 * user, who needs ssm:GetParameter with decryption and kms:Decrypt) and its versions. */
export default function ParameterDetail({ name }: { name: string }) {
  const [parameter, setParameter] = useState<any>(null);
  const [history, setHistory] = useState<any[]>([]);
  const [revealed, setRevealed] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [revealError, setRevealError] = useState("");

  useEffect(() => {
    call("ssm", "GetParameter", { Name: name, WithDecryption: false })
      .then((r) => setParameter(r.Parameter))
      .catch((e) => setError(why(e)));
    callAll("ssm", "GetParameterHistory", { Name: name, MaxResults: 50 }, "Parameters")
      .then((h) => setHistory(h.reverse()))
      .catch(() => {});
  }, [name]);

  const reveal = async () => {
    setRevealError("");
    try {
      const r = await call("ssm", "GetParameter", { Name: name, WithDecryption: true });
      setRevealed(r.Parameter.Value);
    } catch (e) {
      setRevealError(why(e));
    }
  };

  const secure = parameter?.Type === "SecureString";
  return (
    <SpaceBetween size="l">
      <Header variant="h1">{name}</Header>
      {error && <Alert type="error">{error}</Alert>}
      {parameter && (
        <Container header={<Header variant="h2">Value</Header>}>
          <SpaceBetween size="m">
            <SpaceBetween direction="horizontal" size="xl">
              <div>
                <Box variant="awsui-key-label">Type</Box>
                {parameter.Type}
              </div>
              <div>
                <Box variant="awsui-key-label">Version</Box>
                {parameter.Version}
              </div>
              <div>
                <Box variant="awsui-key-label">Last modified</Box>
                {when(parameter.LastModifiedDate)}
              </div>
            </SpaceBetween>
            {secure && revealed === null ? (
              <SpaceBetween direction="horizontal" size="s">
                <Box variant="code">••••••••</Box>
                <Button onClick={reveal}>Reveal value</Button>
              </SpaceBetween>
            ) : (
              <pre className="output" aria-label="Parameter value">
                {secure ? revealed : parameter.Value}
              </pre>
            )}
            {revealError && (
              <Alert type="error" header="The value cannot be shown">
                {revealError}
              </Alert>
            )}
          </SpaceBetween>
        </Container>
      )}
      <Table
        header={<Header variant="h2">History</Header>}
        items={history}
        empty="No history."
        columnDefinitions={[
          { id: "version", header: "Version", cell: (h) => h.Version },
          { id: "when", header: "Modified", cell: (h) => when(h.LastModifiedDate) },
          { id: "who", header: "By", cell: (h) => h.LastModifiedUser ?? "-" },
          { id: "labels", header: "Labels", cell: (h) => (h.Labels ?? []).join(", ") || "-" },
        ]}
      />
    </SpaceBetween>
  );
}
