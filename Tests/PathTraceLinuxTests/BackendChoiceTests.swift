#if os(Linux)
import Foundation
import PathTraceCore
import PathTraceLinux
import Testing

/// The backend and families a session uses, and the truth about what it leaves: legacy TRACE loads a
/// raw table that stays (empty) after the session, and `auto` takes nft where no legacy rule is in use.
@Suite struct BackendChoiceTests {
    /// A filter table with one rule, no raw table: what a plain `iptables-legacy -A INPUT …` leaves.
    static let filterOnly = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -p tcp --dport 22 -j ACCEPT
        COMMIT
        """
    static let withRaw = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        """ + "\n" + filterOnly

    static func fake(v4: String?, v6: String?) -> FakeRunner {
        let fake = FakeRunner()
        if let v4 { fake.outputs["iptables-legacy-save"] = v4 }
        if let v6 { fake.outputs["ip6tables-legacy-save"] = v6 }
        return fake
    }

    static func filter(_ change: (inout WalkFilter) -> Void = { _ in }) -> WalkFilter {
        var f = WalkFilter()
        f.proto = IPProtocol.tcp
        f.dport = PortRange("8080")
        change(&f)
        return f
    }

    @Test func autoWithLegacyRulesButNoRawTableSaysTheRawTableStays() {
        let fake = Self.fake(v4: Self.filterOnly, v6: "")
        let c = BackendChoice.decide(requested: nil, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(c.backend == .legacy)
        #expect(c.families == [.ipv4])
        #expect(c.leavesRawTable == [.ipv4])
        #expect(c.messages.first == "backend legacy (the ruleset has iptables-legacy rules)")
        #expect(c.messages.contains("ipv6 not traced: no iptables-legacy rules for it here (-6 traces it)"))
        #expect(c.messages.contains { $0.contains("the raw table will stay, empty") && $0.hasPrefix("ipv4:") })
        #expect(
            c.exitMessages == ["the ipv4 raw table stays, empty: TRACE loaded it, and a legacy table is not unloaded"])
        // Both listings were read, and (legacy rules in use) the nft ruleset; nothing else ran.
        #expect(fake.log == [["iptables-legacy-save"], ["ip6tables-legacy-save"], ["nft", "list", "ruleset"]])
    }

    @Test func autoWithARawTableLeavesNothing() {
        let fake = Self.fake(v4: Self.withRaw, v6: "")
        let c = BackendChoice.decide(requested: nil, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(c.backend == .legacy && c.families == [.ipv4])
        #expect(c.leavesRawTable.isEmpty && c.exitMessages.isEmpty)
        #expect(!c.messages.contains { $0.contains("will stay") })
    }

    /// `-6` where only IPv4 has legacy rules: legacy TRACE would load ip6tables' raw table for nothing.
    @Test func autoPrefersNftForAFamilyWithoutLegacyRules() {
        let fake = Self.fake(v4: Self.filterOnly, v6: "")
        let c = BackendChoice.decide(
            requested: nil, filter: Self.filter { $0.ipVersion = 6 }, namespace: .current, runner: fake)
        #expect(c.backend == .nft && c.families == [.ipv6])
        #expect(c.leavesRawTable.isEmpty && c.exitMessages.isEmpty)
        #expect(c.messages == ["backend nft (no iptables-legacy rules for ipv6, the families traced)"])
    }

    @Test func autoWithoutLegacyRulesIsNft() {
        let c = BackendChoice.decide(
            requested: nil, filter: Self.filter(), namespace: .current, runner: Self.fake(v4: "", v6: nil))
        #expect(c.backend == .nft && c.families == [.ipv4, .ipv6] && c.leavesRawTable.isEmpty)
        #expect(c.messages == ["backend nft (no iptables-legacy rules in use)"])
    }

    /// The old behaviour printed `ipv4 not traced` and traced it anyway: now the family traced is the one
    /// named, and the residue is said before and after.
    @Test func explicitLegacyInAnEmptyNamespaceTracesIPv4AndSaysSo() {
        let c = BackendChoice.decide(
            requested: .legacy, filter: Self.filter(), namespace: .current, runner: Self.fake(v4: "", v6: ""))
        #expect(c.backend == .legacy && c.families == [.ipv4] && c.leavesRawTable == [.ipv4])
        #expect(!c.messages.contains { $0.hasPrefix("ipv4 not traced") })
        #expect(c.messages.contains("ipv6 not traced: its raw table is not loaded here (-6 traces it)"))
        #expect(c.exitMessages.count == 1)
    }

    @Test func explicitKmsgWithAnAddressNarrowsToItsFamily() {
        let c = BackendChoice.decide(
            requested: .kmsg, filter: Self.filter { $0.dst = IPNetwork("fd00::1/128") }, namespace: .current,
            runner: Self.fake(v4: Self.withRaw, v6: ""))
        #expect(c.families == [.ipv6] && c.leavesRawTable == [.ipv6])
    }

    /// A user's nft table beside iptables-legacy rules.
    static let userNft = """
        table inet ptmix {
        	chain fw {
        		type filter hook forward priority filter + 10; policy accept;
        		tcp dport 8080 counter packets 0 bytes 0
        	}
        }
        """
    /// iptables-nft's own tables, as `nft list ruleset` shows them, and a pathtrace session's table.
    static let compatNft = """
        # Warning: table ip filter is managed by iptables-nft, do not touch!
        table ip filter {
        	chain FORWARD {
        		type filter hook forward priority filter; policy accept;
        		counter packets 0 bytes 0 accept
        	}
        }
        table ip6 nat {
        	chain POSTROUTING {
        		type nat hook postrouting priority srcnat; policy accept;
        	}
        }
        table inet pathtrace_1a2b3c4d {
        	chain prerouting {
        		type filter hook prerouting priority raw - 1; policy accept;
        	}
        }
        """

    @Test func autoWithLegacyRulesBesideAnNftTableIsMixed() {
        let fake = Self.fake(v4: Self.withRaw, v6: "")
        fake.outputs["nft list ruleset"] = Self.userNft
        let c = BackendChoice.decide(requested: nil, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(c.backend == .mixed && c.families == [.ipv4, .ipv6])
        #expect(
            c.messages == ["backend mixed (iptables-legacy rules beside nft tables: inet ptmix; one walk shows both)"])
        // No TRACE rule, so no raw table is loaded and none stays.
        #expect(c.leavesRawTable.isEmpty && c.exitMessages.isEmpty)
        let noRaw = Self.fake(v4: Self.filterOnly, v6: "")
        noRaw.outputs["nft list ruleset"] = Self.userNft
        let d = BackendChoice.decide(requested: nil, filter: Self.filter(), namespace: .current, runner: noRaw)
        #expect(d.backend == .mixed && d.leavesRawTable.isEmpty)
    }

    @Test func iptablesNftTablesAndPathtracesOwnAreNotMixed() {
        #expect(BackendChoice.userNftTables(Self.compatNft).isEmpty)
        #expect(BackendChoice.userNftTables(Self.compatNft + "\n" + Self.userNft) == ["inet ptmix"])
        // A native `table ip filter` with lower-case chains is a user's.
        #expect(
            BackendChoice.userNftTables(
                "table ip filter {\n\tchain input {\n\t\ttype filter hook input priority 0;\n\t}\n}")
                == ["ip filter"])
        let fake = Self.fake(v4: Self.withRaw, v6: "")
        fake.outputs["nft list ruleset"] = Self.compatNft
        let c = BackendChoice.decide(requested: nil, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(c.backend == .legacy)
    }

    /// An `ip6` table beside IPv4 legacy rules, with `-4`: the nft table cannot see what is traced.
    @Test func anNftTableOfAnotherFamilyIsNotMixed() {
        let c = BackendChoice.decide(
            requested: nil, filter: Self.filter { $0.ipVersion = 4 },
            listings: [.ipv4: .init(save: Self.withRaw)], nftTables: ["ip6 other"])
        #expect(c.backend == .legacy && c.families == [.ipv4])
        let d = BackendChoice.decide(
            requested: nil, filter: Self.filter { $0.ipVersion = 4 },
            listings: [.ipv4: .init(save: Self.withRaw)], nftTables: ["ip other"])
        #expect(d.backend == .mixed && d.families == [.ipv4])
    }

    /// Without legacy rules nft sees every table: `nft list ruleset` is not even read.
    @Test func withoutLegacyRulesTheNftRulesetIsNotRead() {
        let fake = Self.fake(v4: "", v6: "")
        fake.outputs["nft list ruleset"] = Self.userNft
        let c = BackendChoice.decide(requested: nil, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(c.backend == .nft)
        #expect(fake.log == [["iptables-legacy-save"], ["ip6tables-legacy-save"]])
    }

    @Test func explicitMixed() {
        let fake = Self.fake(v4: Self.filterOnly, v6: "")
        let c = BackendChoice.decide(requested: .mixed, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(c.backend == .mixed && c.families == [.ipv4, .ipv6] && c.leavesRawTable.isEmpty)
        #expect(c.messages.isEmpty)
        #expect(fake.log == [["iptables-legacy-save"], ["ip6tables-legacy-save"]])
    }

    @Test func nflogAndNftLeaveNothing() {
        let fake = Self.fake(v4: Self.filterOnly, v6: "")
        let nflog = BackendChoice.decide(requested: .nflog, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(nflog.families == [.ipv4] && nflog.leavesRawTable.isEmpty)
        #expect(nflog.messages == ["ipv6 not traced: its tables are not loaded here (-6 traces it)"])
        let nft = BackendChoice.decide(requested: .nft, filter: Self.filter(), namespace: .current, runner: fake)
        #expect(nft.families == [.ipv4, .ipv6] && nft.leavesRawTable.isEmpty && nft.messages.isEmpty)
    }
}
#endif
