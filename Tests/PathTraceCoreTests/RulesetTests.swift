import PathTraceCore
import TestSupport
import Testing

/// Parses a fixture under `Fixtures/`, naming it by its relative path.
private func load(_ relative: String, defaultTable: String? = nil) throws -> Ruleset {
    try RulesetParser.parse(try Fixtures.text(relative), defaultTable: defaultTable, sourceName: relative)
}

/// The error `body` throws, or nil.
private func rulesetError(_ body: () throws -> Ruleset) -> RulesetError? {
    do {
        _ = try body()
        return nil
    } catch let e as RulesetError {
        return e
    } catch {
        return nil
    }
}

private func addr(_ s: String) -> IPAddress? { IPAddress(s) }

@Suite struct RulesetSeedTests {
    @Test func wholeSeedFileFindsBothListings() throws {
        let rs = try load("seed/001_83fd750653f71ea3.txt")
        #expect(rs.tables.map(\.name) == ["filter", "nat"])
        let filter = try #require(rs.tables(named: "filter").first)
        #expect(filter.chains.map(\.name) == ["INPUT", "FORWARD", "OUTPUT"])
        #expect(filter.chains.map(\.ruleCount) == [4, 5, 1])
        let nat = try #require(rs.tables(named: "nat").first)
        #expect(nat.chains.map(\.name) == ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"])
        #expect(nat.chains.map(\.ruleCount) == [0, 0, 0, 5])
        #expect(filter.format == .iptablesListing && filter.family == "ip")
    }

    @Test func seedRulesResolve() throws {
        let rs = try load("seed/001_83fd750653f71ea3.txt")
        let fwd2 = try #require(rs.rule(table: "filter", chain: "FORWARD", ref: .number(2)))
        #expect(fwd2.text.contains("virbr0") && fwd2.text.contains("192.168.122.0/24"))
        #expect(fwd2.text == "ACCEPT all -- virbr0 * 192.168.122.0/24 0.0.0.0/0")
        #expect(fwd2.target == "ACCEPT")
        #expect(fwd2.origin == SourcePosition(file: "seed/001_83fd750653f71ea3.txt", line: 82))

        let post3 = try #require(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(3)))
        #expect(post3.target == "MASQUERADE")
        #expect(post3.proto == "tcp")
        #expect(post3.nat?.type == .masquerade)
        #expect(post3.nat?.toPortRange == 1024...65535)
        #expect(post3.source == "192.168.122.0/24" && post3.destination == "!192.168.122.0/24")

        #expect(rs.ruleCount(table: "nat", chain: "POSTROUTING") == 5)
        #expect(rs.policy(table: "nat", chain: "POSTROUTING") == "ACCEPT")
        #expect(rs.rule(table: "filter", chain: "FORWARD", ref: .number(4))?.target == "REJECT")
        // The tail entry n+1 is the policy, not a rule.
        #expect(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(6)) == nil)
        #expect(rs.ruleCount(table: "nat", chain: "PREROUTING") == 0)
        #expect(rs.ruleCount(table: "raw", chain: "PREROUTING") == nil)
    }

    @Test func separateListingsWithDefaultTable() throws {
        // The seed's listings as separate files, with their command lines…
        var rs = try load("seed/001-filter.nvL", defaultTable: "filter")
        rs.merge(try load("seed/001-nat.nvL", defaultTable: "nat"))
        #expect(rs.rule(table: "filter", chain: "FORWARD", ref: .number(2))?.target == "ACCEPT")
        #expect(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(3))?.nat?.type == .masquerade)
        #expect(rs.ruleCount(table: "filter", chain: "INPUT") == 4)

        // …and without them: only `defaultTable` says which table it is.
        func stripped(_ name: String) throws -> String {
            try Fixtures.text(name).split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
                .joined(separator: "\n")
        }
        let nat = try RulesetParser.parse(try stripped("seed/001-nat.nvL"), defaultTable: "nat", sourceName: "nat")
        #expect(nat.tables.map(\.name) == ["nat"])
        #expect(nat.rule(table: "nat", chain: "POSTROUTING", ref: .number(3))?.proto == "tcp")
        let filter = try RulesetParser.parse(
            try stripped("seed/001-filter.nvL"), defaultTable: "filter", sourceName: "filter")
        #expect(filter.tables.map(\.name) == ["filter"])
        #expect(filter.ruleCount(table: "filter", chain: "FORWARD") == 5)
        // A default table does not override an explicit command line above the listing.
        let explicit = try load("seed/001-nat.nvL", defaultTable: "filter")
        #expect(explicit.tables.map(\.name) == ["nat"])
    }
}

@Suite struct RulesetRealCaptureTests {
    /// Every rule of a `--line-numbers` listing has the number its `num` column shows.
    func expectNumbersMatchNumColumn(_ relative: String, tables: Set<String>? = nil) throws {
        let rs = try load(relative)
        let lines = try Fixtures.text(relative).split(separator: "\n", omittingEmptySubsequences: false)
        var checked = 0
        for table in rs.tables where tables?.contains(table.name) ?? true {
            for chain in table.chains {
                for rule in chain.rules {
                    let num = lines[rule.origin.line - 1].split(separator: " ").first.map(String.init)
                    #expect(num == String(rule.number), "\(table.name) \(chain.name) \(rule.text)")
                    checked += 1
                }
            }
        }
        #expect(checked > 0)
    }

    @Test func legacyListingAllTables() throws {
        let rs = try load("rulesets/legacy.nvL")
        #expect(Set(rs.tables.map(\.name)) == ["raw", "mangle", "nat", "filter"])
        let total = rs.tables.flatMap(\.chains).map(\.ruleCount).reduce(0, +)
        #expect(total >= 50)
        try expectNumbersMatchNumColumn("rulesets/legacy.nvL")

        let dnat = try #require(rs.rule(table: "nat", chain: "DOCKER", ref: .number(2)))
        #expect(dnat.target == "DNAT" && dnat.inInterface == "!docker0" && dnat.proto == "tcp")
        #expect(dnat.nat == NatTarget(type: .dnat, toAddress: addr("10.5.0.11"), toPortRange: 8765...8765))
        #expect(dnat.text == "DNAT tcp -- !docker0 * 0.0.0.0/0 0.0.0.0/0 tcp dpt:8080 to:10.5.0.11:8765")

        let range = try #require(rs.rule(table: "nat", chain: "PORTMAP", ref: .number(3))?.nat)
        #expect(range.toAddress == addr("192.168.122.20") && range.toAddressLast == addr("192.168.122.29"))
        #expect(rs.rule(table: "nat", chain: "PORTMAP", ref: .number(2))?.nat?.toPortRange == 6000...6010)
        #expect(rs.rule(table: "nat", chain: "PORTMAP", ref: .number(4))?.nat?.toAddress == addr("10.42.54.194"))
        #expect(
            rs.rule(table: "nat", chain: "PREROUTING", ref: .number(3))?.nat
                == NatTarget(type: .redirect, toPortRange: 3128...3128))
        #expect(rs.rule(table: "nat", chain: "PREROUTING", ref: .number(4))?.nat == NatTarget(type: .redirect))
        #expect(rs.rule(table: "nat", chain: "INPUT", ref: .number(1))?.nat?.type == .snat)
        let snatRange = try #require(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(7))?.nat)
        #expect(snatRange.toAddressLast == addr("203.0.113.29") && snatRange.toPortRange == 20000...30000)
        #expect(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(8))?.nat?.randomPorts == true)
        // Rules without a target.
        let empty = try #require(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(9)))
        #expect(
            empty.target == nil && empty.source == "10.8.0.0/16" && empty.text == "all -- * * 10.8.0.0/16 0.0.0.0/0")
        #expect(rs.rule(table: "filter", chain: "INPUT", ref: .number(7))?.target == nil)
        #expect(rs.rule(table: "filter", chain: "INPUT", ref: .number(8))?.target == "ACCEPT")
        #expect(rs.rule(table: "filter", chain: "SSH", ref: .number(2))?.target == nil)
        #expect(rs.rule(table: "filter", chain: "SSH", ref: .number(3))?.target == "LOG_DROP")
        // Policies, user chains, marks, raw.
        #expect(rs.policy(table: "filter", chain: "FORWARD") == "DROP")
        #expect(rs.policy(table: "filter", chain: "SSH") == nil)
        #expect(rs.ruleCount(table: "filter", chain: "DOCKER-USER") == 1)
        #expect(rs.rule(table: "mangle", chain: "MARKING", ref: .number(1))?.target == "MARK")
        #expect(rs.rule(table: "mangle", chain: "MARKING", ref: .number(1))?.source == "192.168.122.10")
        #expect(rs.rule(table: "raw", chain: "PREROUTING", ref: .number(2))?.target == "NOTRACK-LAN")
        #expect(rs.rule(table: "raw", chain: "NOTRACK-LAN", ref: .number(1))?.target == "CT")
        // Protocol numbers (iptables 1.8.9 prints `6`, `0`) read as names.
        #expect(rs.rule(table: "filter", chain: "INPUT", ref: .number(8))?.proto == "icmp")
        #expect(rs.rule(table: "filter", chain: "INPUT", ref: .number(8))?.text.hasPrefix("ACCEPT icmp -- ") == true)
    }

    @Test func legacySaveAgreesWithListing() throws {
        let save = try load("rulesets/legacy.save")
        let listing = try load("rulesets/legacy.nvL")
        let plain = try load("rulesets/legacy-plain.L")
        #expect(save.tables.allSatisfy { $0.format == .iptablesSave && $0.family == "ip" })
        for table in save.tables {
            for chain in table.chains {
                let listed = try #require(listing.chain(table: table.name, chain: chain.name))
                #expect(listed.ruleCount == chain.ruleCount, "\(table.name) \(chain.name)")
                #expect(listed.policy == chain.policy, "\(table.name) \(chain.name)")
                for rule in chain.rules {
                    let other = listing.rule(table: table.name, chain: chain.name, ref: .number(rule.number))
                    #expect(other?.target == rule.target, "\(rule.text)")
                    #expect(other?.nat == rule.nat, "\(rule.text)")
                    #expect(other?.proto == rule.proto, "\(rule.text)")
                    #expect(other?.inInterface == rule.inInterface, "\(rule.text)")
                    #expect(other?.outInterface == rule.outInterface, "\(rule.text)")
                    if table.name == "nat" || table.name == "filter" {
                        let p = plain.rule(table: table.name, chain: chain.name, ref: .number(rule.number))
                        #expect(p?.target == rule.target && p?.nat == rule.nat, "\(rule.text)")
                    }
                }
            }
        }
        let dnat = try #require(save.rule(table: "nat", chain: "PORTMAP", ref: .number(4)))
        #expect(
            dnat.text
                == "-A PORTMAP -p tcp -m tcp --dport 9898 -m comment --comment \"podinfo/frontend-podinfo:http\" -j DNAT --to-destination 10.42.54.194:9898"
        )
        #expect(dnat.origin.line == 66)  // the `[0:0] -A PORTMAP …` line of the `-c` save
        #expect(save.rule(table: "filter", chain: "INPUT", ref: .number(9))?.target == "LOG_DROP")  // -g
        #expect(save.rule(table: "filter", chain: "INPUT", ref: .number(1))?.text == "-A INPUT -i lo -j ACCEPT")
        #expect(save.rule(table: "filter", chain: "INPUT", ref: .number(7))?.target == nil)
        #expect(save.rule(table: "nat", chain: "POSTROUTING", ref: .number(3))?.destination == "!192.168.122.0/24")
    }

    @Test func legacyPlainListing() throws {
        let rs = try load("rulesets/legacy-plain.L")
        // Only the filter listing was taken with --line-numbers.
        try expectNumbersMatchNumColumn("rulesets/legacy-plain.L", tables: ["filter"])
        #expect(rs.tables.map(\.name) == ["nat", "filter"])
        let r = try #require(rs.rule(table: "nat", chain: "DOCKER", ref: .number(2)))
        #expect(r.text == "DNAT tcp -- 0.0.0.0/0 0.0.0.0/0 tcp dpt:8080 to:10.5.0.11:8765")
        #expect(r.inInterface == nil)
        #expect(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(9))?.target == nil)
        #expect(rs.rule(table: "filter", chain: "INPUT", ref: .number(7))?.source == "10.9.9.9")
        #expect(rs.policy(table: "filter", chain: "FORWARD") == "DROP")
    }

    @Test func ip6tablesSaveAndListing() throws {
        let save = try load("rulesets/legacy6.save")
        #expect(save.tables.allSatisfy { $0.family == "ip6" })
        #expect(save.tables(named: "nat", family: .ipv4).isEmpty)
        let listing = try load("rulesets/legacy6.nvL")
        try expectNumbersMatchNumColumn("rulesets/legacy6.nvL")
        for rs in [save, listing] {
            let d = try #require(rs.rule(table: "nat", chain: "PREROUTING", ref: .number(1), family: .ipv6)?.nat)
            #expect(d == NatTarget(type: .dnat, toAddress: addr("fd00::2"), toPortRange: 8080...8080))
            #expect(rs.rule(table: "nat", chain: "PREROUTING", ref: .number(2))?.nat?.toAddress == addr("fd00::3"))
            #expect(rs.rule(table: "nat", chain: "OUTPUT", ref: .number(1))?.nat?.toPortRange == 3129...3129)
            #expect(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(1))?.nat?.type == .masquerade)
            #expect(rs.rule(table: "filter", chain: "INPUT", ref: .number(1))?.proto == "icmpv6")
            #expect(rs.policy(table: "filter", chain: "FORWARD") == "DROP")
        }
        // IPv4 and IPv6 tables of the same name live side by side.
        var both = try load("rulesets/legacy.save")
        both.merge(save)
        #expect(both.ruleCount(table: "filter", chain: "INPUT", family: .ipv4) == 9)
        #expect(both.ruleCount(table: "filter", chain: "INPUT", family: .ipv6) == 2)
    }

    @Test func nftWithHandles() throws {
        let rs = try load("rulesets/nft-handles.nft")
        #expect(
            rs.tables.map { "\($0.family) \($0.name)" } == [
                "inet filter", "ip nat", "ip6 nat6", "inet nat46", "ip raw", "netdev ingress0", "bridge brfilter",
            ])
        let input = try #require(rs.chain(table: "filter", chain: "input"))
        #expect(input.policy == "drop" && input.hook == "input" && input.priority == "filter" && input.handle == 3)
        #expect(input.ruleCount == 8)
        // Handles are searched in every chain of the table.
        let viaOtherChain = try #require(rs.rule(table: "filter", chain: "input", ref: .handle(11)))
        #expect(
            viaOtherChain.text == "ip saddr 192.168.122.0/24 tcp dport @allowed_ports accept comment \"lan # services\""
        )
        #expect(viaOtherChain.target == "accept" && viaOtherChain.number == 1)
        #expect(rs.rule(table: "filter", chain: "input", ref: .handle(19))?.target == "jump lan_in")
        #expect(rs.rule(table: "filter", chain: "input", ref: .handle(18))?.target == "vmap")
        #expect(rs.rule(table: "filter", chain: "input", ref: .handle(23))?.target == "jump log_drop")
        #expect(rs.rule(table: "filter", chain: "input", ref: .number(5))?.handle == 19)
        #expect(rs.rule(table: "filter", chain: "forward", ref: .handle(28))?.target == "reject")
        let ctDnat = try #require(rs.rule(table: "filter", chain: "forward", ref: .handle(26)))
        #expect(ctDnat.target == "accept" && ctDnat.nat == nil)  // `ct status dnat` is a match
        #expect(rs.rule(table: "filter", chain: "log_drop", ref: .handle(9))?.target == "log")
        #expect(rs.policy(table: "filter", chain: "output") == "accept")
        #expect(rs.policy(table: "filter", chain: "lan_in") == nil)

        func nat(_ h: UInt64, table: String = "nat", chain: String = "prerouting") -> NatTarget? {
            rs.rule(table: table, chain: chain, ref: .handle(h))?.nat
        }
        #expect(nat(6) == NatTarget(type: .dnat, toAddress: addr("172.29.0.5"), toPortRange: 873...873))
        #expect(nat(7) == NatTarget(type: .dnat, toAddress: addr("10.5.0.11"), toPortRange: 8765...8765))
        #expect(nat(8)?.toAddressLast == addr("192.168.122.29"))
        #expect(nat(9)?.isDynamic == true)
        #expect(nat(10) == NatTarget(type: .redirect, toPortRange: 3128...3128))
        #expect(nat(11) == NatTarget(type: .redirect))
        #expect(nat(13)?.toPortRange == 6000...6010)
        #expect(nat(15, chain: "output")?.toAddress == addr("192.168.122.25"))
        #expect(nat(17, chain: "postrouting") == NatTarget(type: .masquerade, toPortRange: 1024...65535))
        #expect(nat(18, chain: "postrouting") == NatTarget(type: .masquerade))
        #expect(nat(19, chain: "postrouting") == NatTarget(type: .snat, toAddress: addr("203.0.113.10")))
        #expect(nat(20, chain: "postrouting")?.toPortRange == 20000...30000)
        #expect(rs.rule(table: "nat", chain: "postrouting", ref: .handle(17))?.proto == "tcp")
        #expect(rs.rule(table: "nat", chain: "postrouting", ref: .handle(19))?.outInterface == "eth0")
        #expect(nat(3, table: "nat6") == NatTarget(type: .dnat, toAddress: addr("fd00::2"), toPortRange: 80...80))
        #expect(nat(4, table: "nat6")?.toAddress == addr("fd00::3"))
        #expect(nat(2, table: "nat46")?.toAddress == addr("10.0.0.2"))
        #expect(nat(3, table: "nat46")?.toAddress == addr("fd00::5"))
        // inet tables see both families; ip6 tables only IPv6.
        #expect(rs.rule(table: "nat46", chain: "prerouting", ref: .handle(2), family: .ipv4) != nil)
        #expect(rs.rule(table: "nat6", chain: "prerouting", ref: .handle(3), family: .ipv4) == nil)
        #expect(rs.rule(table: "raw", chain: "prerouting", ref: .handle(2))?.target == "nftrace")
        #expect(rs.chain(table: "ingress0", chain: "ingress")?.hook == "ingress")
    }

    @Test func nftWithoutHandlesMatchesWithHandles() throws {
        let plain = try load("rulesets/nft-plain.nft")
        let handles = try load("rulesets/nft-handles.nft")
        #expect(plain.tables.count == handles.tables.count)
        for (a, b) in zip(plain.tables, handles.tables) {
            #expect(a.name == b.name && a.family == b.family)
            for (ca, cb) in zip(a.chains, b.chains) {
                #expect(ca.name == cb.name && ca.policy == cb.policy && ca.handle == nil)
                #expect(ca.rules.map(\.text) == cb.rules.map(\.text))
                #expect(ca.rules.map(\.nat) == cb.rules.map(\.nat))
                #expect(ca.rules.allSatisfy { $0.handle == nil })
            }
        }
        #expect(plain.rule(table: "nat", chain: "prerouting", ref: .number(1))?.nat?.toAddress == addr("172.29.0.5"))
    }

    @Test func iptablesNftThreeWays() throws {
        let save = try load("rulesets/iptables-nft.save")
        let nft = try load("rulesets/iptables-nft.nft")
        let listing = try load("rulesets/iptables-nft.nvL")
        try expectNumbersMatchNumColumn("rulesets/iptables-nft.nvL")
        // nft tables made by iptables-nft carry the iptables table and chain names.
        let dnat = try #require(nft.rule(table: "nat", chain: "PREROUTING", ref: .handle(5)))
        #expect(dnat.target == "dnat" && dnat.number == 2 && dnat.chain == "DOCKER")
        #expect(dnat.nat == NatTarget(type: .dnat, toAddress: addr("172.29.0.5"), toPortRange: 873...873))
        #expect(nft.rule(table: "nat", chain: "POSTROUTING", ref: .handle(8))?.nat?.type == .masquerade)
        #expect(nft.rule(table: "filter", chain: "FORWARD", ref: .handle(3))?.target == "jump DOCKER-USER")
        #expect(nft.rule(table: "mangle", chain: "PREROUTING", ref: .handle(2))?.target == "mark")
        #expect(nft.policy(table: "filter", chain: "FORWARD") == "drop")
        for table in ["nat", "filter"] {
            for chain in save.tables(named: table).first?.chains ?? [] {
                #expect(nft.ruleCount(table: table, chain: chain.name) ?? 0 == chain.ruleCount, "\(chain.name)")
                #expect(listing.ruleCount(table: table, chain: chain.name) == chain.ruleCount, "\(chain.name)")
                for rule in chain.rules {
                    let viaNft = nft.rule(table: table, chain: chain.name, ref: .number(rule.number))
                    let viaList = listing.rule(table: table, chain: chain.name, ref: .number(rule.number))
                    #expect(viaNft?.nat == rule.nat && viaList?.nat == rule.nat, "\(rule.text)")
                    #expect(viaList?.target == rule.target, "\(rule.text)")
                }
            }
        }
        #expect(save.rule(table: "raw", chain: "PREROUTING", ref: .number(1))?.target == "TRACE")
    }
}

@Suite struct RulesetFormatTests {
    @Test func mixedNotes() throws {
        let rs = try load("rulesets/mixed-notes.md")
        // iptables -S under `$ sudo iptables -t mangle -S`
        #expect(rs.policy(table: "mangle", chain: "PREROUTING") == "ACCEPT")
        #expect(rs.rule(table: "mangle", chain: "PREROUTING", ref: .number(1))?.target == "MARKS")
        #expect(rs.rule(table: "mangle", chain: "MARKS", ref: .number(1))?.proto == "tcp")
        // restore file with -I
        #expect(rs.rule(table: "nat", chain: "PREROUTING", ref: .number(1))?.target == "RETURN")
        #expect(rs.rule(table: "nat", chain: "PREROUTING", ref: .number(2))?.target == "WEB")
        #expect(rs.rule(table: "nat", chain: "PREROUTING", ref: .number(2))?.number == 2)
        let snat = try #require(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(1))?.nat)
        #expect(snat.toAddress == addr("198.51.100.1") && snat.toAddressLast == addr("198.51.100.5"))
        #expect(snat.randomPorts)
        // old ip6tables listing without an opt value
        let lo = try #require(rs.rule(table: "filter", chain: "INPUT", ref: .number(1), family: .ipv6))
        #expect(lo.target == "ACCEPT" && lo.inInterface == "lo" && lo.proto == nil)
        #expect(rs.rule(table: "filter", chain: "INPUT", ref: .number(2), family: .ipv6)?.proto == "icmpv6")
        #expect(rs.policy(table: "filter", chain: "INPUT", family: .ipv6) == "DROP")
        #expect(rs.tables(named: "filter", family: .ipv4).isEmpty)
        // nft: sets, maps and flowtables skipped, rule over two lines, quoted chain name, one-line table
        let web = try #require(rs.rule(table: "fw", chain: "web", ref: .number(1)))
        #expect(web.text == "tcp dport { 80, 8080 } accept comment \"web { braces } in a comment\"")
        #expect(web.target == "accept")
        #expect(rs.chain(table: "fw", chain: "in put")?.policy == "drop")
        #expect(rs.rule(table: "fw", chain: "in put", ref: .number(2))?.text == "ip saddr 10.0.0.0/8 counter drop")
        #expect(rs.chain(table: "fw", chain: "in put")?.ruleCount == 2)
        #expect(rs.rule(table: "one", chain: "c", ref: .number(1))?.nat?.type == .masquerade)
        #expect(rs.chain(table: "one", chain: "c")?.hook == "postrouting")
    }

    @Test func listingWithoutHintIsFilter() throws {
        let text = """
            Chain INPUT (policy ACCEPT)
            target     prot opt source               destination
            ACCEPT     all  --  10.0.0.0/8           0.0.0.0/0
            DROP       tcp  --  0.0.0.0/0            0.0.0.0/0            tcp dpt:23
            """
        let rs = try RulesetParser.parse(text, sourceName: "bare.txt")
        #expect(rs.tables.map(\.name) == ["filter"])
        #expect(
            rs.rule(table: "filter", chain: "INPUT", ref: .number(2))?.text
                == "DROP tcp -- 0.0.0.0/0 0.0.0.0/0 tcp dpt:23")
        let nat = try RulesetParser.parse(text, defaultTable: "nat", sourceName: "bare.txt")
        #expect(nat.tables.map(\.name) == ["nat"])
    }

    @Test func hintlessListingsAreTold() throws {
        // Two listings pasted without command lines: the repeated chain starts the second one, whose
        // built-in chains (PREROUTING, POSTROUTING) cannot belong to filter.
        let text = """
            Chain INPUT (policy ACCEPT)
            target     prot opt source               destination
            ACCEPT     all  --  0.0.0.0/0            0.0.0.0/0

            Chain PREROUTING (policy ACCEPT)
            target     prot opt source               destination

            Chain INPUT (policy ACCEPT)
            target     prot opt source               destination

            Chain POSTROUTING (policy ACCEPT)
            target     prot opt source               destination
            MASQUERADE  all  --  10.0.0.0/8          0.0.0.0/0
            """
        let rs = try RulesetParser.parse(text, sourceName: "two.txt")
        #expect(rs.ruleCount(table: "filter", chain: "INPUT") == 1)
        #expect(rs.ruleCount(table: "nat", chain: "INPUT") == 0)
        #expect(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(1))?.nat?.type == .masquerade)
    }

    @Test func shellSessionHints() throws {
        let text = """
            root@host:~# ip6tables-legacy -t nat -L -n --line-numbers
            Chain PREROUTING (policy ACCEPT)
            num  target     prot opt source               destination
            1    DNAT       tcp  --  ::/0                 ::/0                 tcp dpt:80 to:[fd00::2]:8080
            root@host:~# iptables --table=mangle --list -n
            Chain OUTPUT (policy ACCEPT)
            target     prot opt source               destination
            MARK       all  --  0.0.0.0/0            0.0.0.0/0            MARK set 0x1
            """
        let rs = try RulesetParser.parse(text, sourceName: "session.txt")
        #expect(rs.tables.map { "\($0.family) \($0.name)" } == ["ip6 nat", "ip mangle"])
        #expect(rs.rule(table: "nat", chain: "PREROUTING", ref: .number(1))?.nat?.toAddress == addr("fd00::2"))
        #expect(rs.rule(table: "mangle", chain: "OUTPUT", ref: .number(1))?.target == "MARK")
    }

    @Test func saveAndNftInOneFile() throws {
        let text = try Fixtures.text("rulesets/iptables-nft.save") + "\n" + Fixtures.text("rulesets/iptables-nft.nft")
        let rs = try RulesetParser.parse(text, sourceName: "both.txt")
        // Same kernel tables (ip nat, ip filter, ...): the nft listing, read last, wins chain by chain.
        #expect(rs.tables(named: "nat").count == 1)
        #expect(rs.rule(table: "nat", chain: "PREROUTING", ref: .handle(5))?.nat?.toAddress == addr("172.29.0.5"))
        #expect(rs.rule(table: "nat", chain: "DOCKER", ref: .number(2))?.target == "dnat")
        #expect(rs.ruleCount(table: "filter", chain: "FORWARD") == 4)
    }

    @Test func looseRulesAndProse() throws {
        let text = """
            Pasted from xtables-monitor:
            -4 -t nat -A POSTROUTING -o eth0 -j MASQUERADE
            -A INPUT -p tcp --dport 22 -j ACCEPT
            -A sentence that starts with a dash is prose
            table { border: 1px solid }
            *raw
            :PREROUTING ACCEPT [0:0]
            -A PREROUTING -p tcp --dport 3128 -j TRACE
            - a Markdown list item after a block without COMMIT
            """
        let rs = try RulesetParser.parse(text, sourceName: "loose.txt")
        #expect(rs.rule(table: "nat", chain: "POSTROUTING", ref: .number(1))?.nat?.type == .masquerade)
        #expect(
            rs.rule(table: "filter", chain: "INPUT", ref: .number(1))?.text == "-A INPUT -p tcp --dport 22 -j ACCEPT")
        #expect(rs.ruleCount(table: "filter", chain: "INPUT") == 1)
        #expect(rs.chain(table: "filter", chain: "sentence") == nil)
        #expect(rs.rule(table: "raw", chain: "PREROUTING", ref: .number(1))?.target == "TRACE")
        #expect(rs.tables.map(\.name) == ["nat", "filter", "raw"])
    }

    @Test func kubeProxySizedRulesets() throws {
        // Thousands of chains: chain and handle lookups are indexed.
        var save = "*nat\n:PREROUTING ACCEPT [0:0]\n"
        var nft = "table ip nat {\n"
        for c in 0..<2000 {
            save += ":KUBE-SEP-\(c) - [0:0]\n"
            nft += "chain KUBE-SEP-\(c) {\n"
            for r in 0..<5 {
                save += "-A KUBE-SEP-\(c) -p tcp -j DNAT --to-destination 10.\(c / 250).\(c % 250).\(r):80\n"
                nft += "meta l4proto tcp dnat to 10.\(c / 250).\(c % 250).\(r):80 # handle \(c * 5 + r + 10)\n"
            }
            nft += "}\n"
        }
        let a = try RulesetParser.parse(save + "COMMIT\n", sourceName: "big.save")
        let b = try RulesetParser.parse(nft + "}\n", sourceName: "big.nft")
        #expect(a.rule(table: "nat", chain: "KUBE-SEP-1999", ref: .number(5))?.nat?.toAddress == addr("10.7.249.4"))
        let h = try #require(b.rule(table: "nat", chain: "PREROUTING", ref: .handle(1999 * 5 + 4 + 10)))
        #expect(h.chain == "KUBE-SEP-1999" && h.number == 5 && h.nat?.toAddress == addr("10.7.249.4"))
        #expect(b.rule(table: "nat", chain: "KUBE-SEP-0", ref: .handle(9)) == nil)
    }

    @Test func merging() throws {
        var rs = try load("seed/001_83fd750653f71ea3.txt")
        let newer = try RulesetParser.parse(
            """
            *filter
            :FORWARD DROP [0:0]
            -A FORWARD -j ACCEPT
            COMMIT
            """, sourceName: "newer.save")
        rs.merge(newer)
        #expect(rs.policy(table: "filter", chain: "FORWARD") == "DROP")  // replaced
        #expect(rs.ruleCount(table: "filter", chain: "FORWARD") == 1)
        #expect(rs.ruleCount(table: "filter", chain: "INPUT") == 4)  // kept
        #expect(rs.ruleCount(table: "nat", chain: "POSTROUTING") == 5)
        #expect(rs.tables(named: "filter").first?.format == .iptablesSave)
    }

    @Test func splitArgument() {
        #expect(RulesetParser.splitArgument("nat=Fixtures/seed/001-nat.nvL") == ("nat", "Fixtures/seed/001-nat.nvL"))
        #expect(RulesetParser.splitArgument("rules.save") == (nil, "rules.save"))
        #expect(RulesetParser.splitArgument("/tmp/a=b/rules") == (nil, "/tmp/a=b/rules"))
    }
}

@Suite struct RulesetErrorTests {
    @Test func emptyFile() {
        let e = rulesetError { try RulesetParser.parse("", sourceName: "empty.rules") }
        #expect(e?.source == "empty.rules")
        #expect(e?.line == nil)
        #expect(e?.description.hasPrefix("empty.rules: ") == true)
        #expect(
            rulesetError { try RulesetParser.parse(" \n\n\t\n", sourceName: "blank.rules") }?.source == "blank.rules")
    }

    @Test func garbage() throws {
        let e = try #require(
            rulesetError { try RulesetParser.parse("hello world\nthis is not a ruleset\n", sourceName: "junk.txt") })
        #expect(e.source == "junk.txt")
        #expect(e.reason.contains("no ruleset"))
        // A trace log is not a ruleset either.
        let dmesg = try Fixtures.text("seed/001-libvirt-nat.dmesg")
        #expect(rulesetError { try RulesetParser.parse(dmesg, sourceName: "trace.log") }?.source == "trace.log")
    }

    @Test func brokenSaveBlock() {
        let e = rulesetError {
            try RulesetParser.parse("*filter\n:INPUT ACCEPT [0:0]\n-Z INPUT\nCOMMIT\n", sourceName: "r.save")
        }
        #expect(e == RulesetError(source: "r.save", line: 3, reason: e?.reason ?? ""))
        #expect(e?.reason.contains("-Z") == true)
        let colon = rulesetError { try RulesetParser.parse("*nat\n:\nCOMMIT\n", sourceName: "r.save") }
        #expect(colon?.line == 2)
        let noChain = rulesetError { try RulesetParser.parse("*nat\n-A\nCOMMIT\n", sourceName: "r.save") }
        #expect(noChain?.line == 2)
    }

    @Test func brokenListing() {
        let text = """
            # iptables -nvL --line-numbers
            Chain INPUT (policy ACCEPT 0 packets, 0 bytes)
            num   pkts bytes target     prot opt in     out     source               destination
            1        0     0 ACCEPT     0    --  lo     *       0.0.0.0/0            0.0.0.0/0
            2        0     0 ACCEPT
            """
        let e = rulesetError { try RulesetParser.parse(text, sourceName: "l.txt") }
        #expect(e?.line == 5)
        #expect(e?.description.hasPrefix("l.txt:5: ") == true)
        let order = """
            Chain INPUT (policy ACCEPT)
            num  target     prot opt source               destination
            2    ACCEPT     all  --  0.0.0.0/0            0.0.0.0/0
            1    DROP       all  --  0.0.0.0/0            0.0.0.0/0
            """
        #expect(rulesetError { try RulesetParser.parse(order, sourceName: "o.txt") }?.line == 4)
    }

    @Test func brokenNft() {
        let open = rulesetError {
            try RulesetParser.parse("table ip filter {\n  chain input {\n    accept\n  }\n", sourceName: "x.nft")
        }
        #expect(open?.line == 1)
        #expect(open?.reason.contains("not closed") == true)
        let stray = rulesetError {
            try RulesetParser.parse("table ip filter {\n  chain {\n  }\n}\n", sourceName: "y.nft")
        }
        #expect(stray?.line == 2)
    }
}

@Suite struct NatTargetTests {
    @Test func fromMonitorRuleText() {
        // xtables-monitor prints save syntax.
        let xt = RulesetParser.natTarget(
            fromRuleText:
                "-4 -t nat -A KUBE-SEP-OYNVDBAPYJ623W6H -p tcp -m comment --comment \"podinfo/frontend-podinfo:http\" -m tcp -j DNAT --to-destination 10.42.54.194:9898"
        )
        #expect(xt == NatTarget(type: .dnat, toAddress: addr("10.42.54.194"), toPortRange: 9898...9898))
        // nft monitor trace prints nft syntax.
        let nft = RulesetParser.natTarget(
            fromRuleText:
                "iifname != \"br-c4974cabc2ec\" meta l4proto tcp tcp dport 873 counter packets 3 bytes 180 dnat to 172.29.0.5:873"
        )
        #expect(nft == NatTarget(type: .dnat, toAddress: addr("172.29.0.5"), toPortRange: 873...873))
        #expect(RulesetParser.natTarget(fromRuleText: "dnat ip to 10.0.0.2:80")?.toAddress == addr("10.0.0.2"))
        #expect(RulesetParser.natTarget(fromRuleText: "dnat ip6 to [fd00::2]:80")?.toPortRange == 80...80)
        #expect(
            RulesetParser.natTarget(fromRuleText: "snat to 1.2.3.4")
                == NatTarget(type: .snat, toAddress: addr("1.2.3.4")))
        #expect(RulesetParser.natTarget(fromRuleText: "oifname \"eth0\" masquerade") == NatTarget(type: .masquerade))
        #expect(RulesetParser.natTarget(fromRuleText: "masquerade to :1024-65535 fully-random")?.randomPorts == true)
        #expect(RulesetParser.natTarget(fromRuleText: "tcp dport 80 redirect to :3128")?.toPortRange == 3128...3128)
        #expect(
            RulesetParser.natTarget(fromRuleText: "-j SNAT --to-source 1.2.3.4-1.2.3.9:1000-2000")?.toAddressLast
                == addr("1.2.3.9"))
        #expect(
            RulesetParser.natTarget(fromRuleText: "-A X -j MASQUERADE --to-ports 1024-65535")?.toPortRange
                == 1024...65535)
        #expect(RulesetParser.natTarget(fromRuleText: "-A X -j REDIRECT --to-ports 3128")?.type == .redirect)
        // listing lines
        #expect(
            RulesetParser.natTarget(fromRuleText: "DNAT tcp -- * * 0.0.0.0/0 0.0.0.0/0 tcp dpt:8080 to:10.5.0.11:8765")
                == NatTarget(type: .dnat, toAddress: addr("10.5.0.11"), toPortRange: 8765...8765))
        #expect(
            RulesetParser.natTarget(
                fromRuleText: "3 0 0 MASQUERADE tcp -- * * 192.168.122.0/24 !192.168.122.0/24 masq ports: 1024-65535")?
                .toPortRange == 1024...65535)
        #expect(
            RulesetParser.natTarget(
                fromRuleText: "REDIRECT tcp -- * * 0.0.0.0/0 0.0.0.0/0 tcp dpt:80 redir ports 3128")?.toPortRange
                == 3128...3128)
        // not NAT
        #expect(RulesetParser.natTarget(fromRuleText: "ct status dnat accept") == nil)
        #expect(RulesetParser.natTarget(fromRuleText: "ct status snat,dnat accept") == nil)
        #expect(RulesetParser.natTarget(fromRuleText: "-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT") == nil)
        #expect(RulesetParser.natTarget(fromRuleText: "ACCEPT all -- * * 0.0.0.0/0 0.0.0.0/0 ctstate DNAT") == nil)
        #expect(RulesetParser.natTarget(fromRuleText: "log prefix \"dnat to 1.2.3.4\" accept") == nil)
        #expect(RulesetParser.natTarget(fromRuleText: "") == nil)
    }

    @Test func after() throws {
        let orig = try #require(addr("10.44.32.217"))
        let dnat = NatTarget(type: .dnat, toAddress: addr("10.5.0.11"), toPortRange: 8765...8765)
        #expect(dnat.after(original: orig, port: 8080).map { "\($0.address):\($0.port ?? 0)" } == "10.5.0.11:8765")
        let dnatNoPort = NatTarget(type: .dnat, toAddress: addr("10.5.0.12"))
        #expect(dnatNoPort.after(original: orig, port: 8081)?.port == 8081)
        #expect(dnatNoPort.after(original: orig, port: nil)?.port == nil)
        let portOnly = NatTarget(type: .dnat, toPortRange: 80...80)
        #expect(portOnly.after(original: orig, port: 8080)?.address == orig)
        #expect(
            NatTarget(type: .snat, toAddress: addr("1.2.3.4"), toAddressLast: addr("1.2.3.9")).after(
                original: orig, port: 1) == nil)
        #expect(NatTarget(type: .dnat, isDynamic: true).after(original: orig, port: 1) == nil)
        let portRange = NatTarget(type: .snat, toAddress: addr("1.2.3.4"), toPortRange: 1000...2000)
        #expect(portRange.after(original: orig, port: 1500)?.port == 1500)
        #expect(portRange.after(original: orig, port: 80)?.port == nil)
        #expect(
            NatTarget(type: .snat, toAddress: addr("1.2.3.4"), randomPorts: true).after(original: orig, port: 80)?.port
                == nil)
        // MASQUERADE and REDIRECT need the interface address from the topology.
        let masq = NatTarget(type: .masquerade, toPortRange: 1024...65535)
        let src = try #require(addr("192.168.122.17"))
        #expect(masq.after(original: src, port: 42954) == nil)
        let out = masq.after(original: src, port: 42954, interfaceAddress: addr("10.44.0.1"))
        #expect(out?.address == addr("10.44.0.1") && out?.port == 42954)
        let redirect = NatTarget(type: .redirect, toPortRange: 3128...3128)
        #expect(redirect.after(original: orig, port: 80) == nil)
        #expect(redirect.after(original: orig, port: 80, interfaceAddress: addr("192.168.122.1"))?.port == 3128)
        // IPv6, and no cross-family rewrites.
        let v6 = NatTarget(type: .dnat, toAddress: addr("fd00::2"), toPortRange: 80...80)
        #expect(v6.after(original: try #require(addr("2001:db8::1")), port: 8080)?.address == addr("fd00::2"))
        #expect(v6.after(original: orig, port: 8080) == nil)
        #expect(v6.description == "DNAT to [fd00::2]:80")
        #expect(dnat.description == "DNAT to 10.5.0.11:8765")
    }
}
