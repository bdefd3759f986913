import { useEffect, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Button from "@cloudscape-design/components/button";
import Header from "@cloudscape-design/components/header";
import Link from "@cloudscape-design/components/link";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table from "@cloudscape-design/components/table";
import { callAll, why } from "../api";
import { go } from "../route";
import { OwnerFilter } from "./pickers";

/** Documents: the account's own, those shared with it, the built-in ones. */
export default function Documents() {
  const [owner, setOwner] = useState("Self");
  const [docs, setDocs] = useState<any[]>([]);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");

  useEffect(() => {
    setLoading(true);
    setError("");
    callAll("ssm", "ListDocuments", { Filters: [{ Key: "Owner", Values: [owner] }], MaxResults: 50 },
      "DocumentIdentifiers", 1000)
      .then(setDocs)
      .catch((e) => setError(why(e)))
      .finally(() => setLoading(false));
  }, [owner]);

  return (
    <SpaceBetween size="l">
      {error && <Alert type="error">{error}</Alert>}
      <Table
        variant="full-page"
        loading={loading}
        loadingText="Reading documents"
        items={docs}
        header={
          <Header
            variant="awsui-h1-sticky"
            counter={`(${docs.length})`}
            actions={
              <Button variant="primary" onClick={() => go("/documents/new")}>
                Create document
              </Button>
            }
          >
            Documents
          </Header>
        }
        filter={<OwnerFilter owner={owner} onChange={setOwner} builtIn />}
        empty="No documents."
        columnDefinitions={[
          {
            id: "name",
            header: "Name",
            isRowHeader: true,
            cell: (d) => <Link href={`#/documents/${encodeURIComponent(d.Name)}`}>{d.Name}</Link>,
          },
          { id: "type", header: "Type", cell: (d) => d.DocumentType },
          { id: "format", header: "Format", cell: (d) => d.DocumentFormat },
          { id: "version", header: "Default version", cell: (d) => d.DocumentVersion ?? "-" },
          { id: "owner", header: "Owner", cell: (d) => d.Owner },
        ]}
      />
    </SpaceBetween>
  );
}
